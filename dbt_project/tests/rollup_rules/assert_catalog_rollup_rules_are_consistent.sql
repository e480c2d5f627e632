{#-
    The roll-up rules each indicator declares (raw/README.md section 7) fit the rest of its catalog row:
    - 7.1 a ratio-of-sums indicator (aggregation or annual_rule) says what happens without a fraction, and
      derive_from_weight names a weight and is for hamlet-level indicators only (the weight is the hamlet's);
    - 7.2 share_meeting and all_yes count hamlets existing at the period end: they are stock;
    - 7.4 hamlet-level indicators say who may report them, commune-level ones are not_applicable.
-#}
select
    indicator_code,
    level,
    aggregation,
    annual_rule,
    measure_kind,
    missing_fraction_rule,
    fraction_weight,
    hamlet_reporters

from {{ ref('indicators') }}
where
    ('ratio_of_sums' in (aggregation, annual_rule) and missing_fraction_rule = 'not_applicable')
    or (missing_fraction_rule = 'derive_from_weight' and (level <> 'hamlet' or fraction_weight is null))
    or (missing_fraction_rule <> 'derive_from_weight' and fraction_weight is not null)
    or (aggregation in ('share_meeting', 'all_yes') and measure_kind <> 'stock')
    or (level = 'hamlet' and hamlet_reporters = 'not_applicable')
    or (level = 'commune' and hamlet_reporters <> 'not_applicable')
