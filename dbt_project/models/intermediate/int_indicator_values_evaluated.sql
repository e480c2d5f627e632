{#-
    Threshold logic: the threshold applied is the commune group's threshold (indicator_thresholds, QĐ 51/2025
    groups 1-3) when one exists for the location's commune group, else the indicator's default threshold;
    met_threshold is value >= threshold for higher_better and value <= threshold for lower_better, null when
    there is no threshold or no value. Communes missing from communes_group are group 2.
-#}
with

annualised as (

    select * from {{ ref('int_indicator_values_annualised') }}

),

indicators as (

    select * from {{ ref('indicators') }}

),

indicator_thresholds as (

    select * from {{ ref('indicator_thresholds') }}

),

communes_group as (

    select * from {{ ref('communes_group') }}

),

with_group as (

    select
        annualised.*,
        coalesce(communes_group.commune_group, 2) as commune_group

    from annualised
    left join communes_group
        on annualised.commune_code = lpad(cast(communes_group.commune_code as varchar), 5, '0')

),

final as (

    select
        with_group.location_code,
        with_group.location_level,
        with_group.commune_code,
        with_group.hamlet_code,
        with_group.period_code,
        with_group.indicator_code,
        with_group.value,
        with_group.numerator,
        with_group.denominator,
        with_group.unit_code,
        with_group.submission_id,
        with_group.submitted_at,
        with_group.units_count,
        with_group.value_source,
        with_group.quarters_count,
        with_group.commune_group,
        indicators.direction,
        cast(coalesce(indicator_thresholds.threshold, indicators.threshold) as double) as threshold_applied,
        case
            when indicator_thresholds.threshold is not null then 'commune_group'
            when indicators.threshold is not null then 'default'
        end as threshold_source,
        {{ ntm_meets_threshold(
            'with_group.value',
            'coalesce(indicator_thresholds.threshold, indicators.threshold)',
            'indicators.direction'
        ) }} as met_threshold

    from with_group
    left join indicators
        on with_group.indicator_code = indicators.indicator_code
    left join indicator_thresholds
        on with_group.indicator_code = indicator_thresholds.indicator_code
        and with_group.commune_group = indicator_thresholds.commune_group

)

select * from final
