{#-
    Roll-up rule 7.4 (raw/README.md): a hamlet's value in force comes from the hamlet's own unit or, when the
    indicator's hamlet_reporters is own_or_listed, from a unit whose reports_for_hamlets (reporting_units.csv)
    lists the hamlet. The ingest quarantines any other row (reporter_not_allowed); this test catches a registry
    edited after the rows were loaded.
-#}
with

listed as (

    select distinct
        unit_code,
        trim(listed_hamlet) as hamlet_code

    from {{ ref('stg_raw__reporting_units') }},
        unnest(regexp_split_to_array(coalesce(reports_for_hamlets, ''), '[;,\s]+')) as t (listed_hamlet)
    where trim(listed_hamlet) <> ''

)

select
    values_versioned.submission_id,
    values_versioned.unit_code,
    values_versioned.hamlet_code,
    values_versioned.indicator_code

from {{ ref('int_submission_values_versioned') }} as values_versioned
inner join {{ ref('indicators') }} as indicators
    on values_versioned.indicator_code = indicators.indicator_code
left join listed
    on values_versioned.unit_code = upper(listed.unit_code)
    and values_versioned.hamlet_code = upper(listed.hamlet_code)
where
    values_versioned.is_in_force
    and values_versioned.hamlet_code is not null
    and indicators.hamlet_reporters in ('own_or_listed', 'own_only')
    and values_versioned.unit_code <> values_versioned.hamlet_code
    and (indicators.hamlet_reporters = 'own_only' or listed.unit_code is null)
    -- a period run: only the rows of its test period (macros/set_tests.sql, overview.md)
    and {{ ntm_test_period_scope('values_versioned.period_code') }}
