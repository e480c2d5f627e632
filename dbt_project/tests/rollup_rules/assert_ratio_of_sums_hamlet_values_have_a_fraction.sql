{#-
    Roll-up rule 7.1 (raw/README.md): a hamlet value of a ratio-of-sums indicator always carries a numerator
    and a denominator (reported, or derived from the catalog's fraction_weight), so it weighs in the commune
    and province roll-ups. Fails on a hamlet that would count in hamlets_reporting while its value silently
    drops out of sum(numerator) / sum(denominator), e.g. when hamlet_population.csv lost a year after ingest.
-#}
select
    selected.location_code,
    selected.period_code,
    selected.indicator_code,
    selected.value,
    selected.numerator,
    selected.denominator

from {{ ref('int_indicator_values_selected') }} as selected
inner join {{ ref('indicators') }} as indicators
    on selected.indicator_code = indicators.indicator_code
where
    selected.location_level = 'hamlet'
    and indicators.aggregation = 'ratio_of_sums'
    and selected.value is not null
    and (selected.numerator is null or selected.denominator is null)
    -- a period run: only the rows of its test period (macros/set_tests.sql, overview.md)
    and {{ ntm_test_period_scope('selected.period_code') }}
