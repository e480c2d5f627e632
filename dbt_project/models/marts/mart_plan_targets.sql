{#-
    Every target of the plan (indicator_targets) for its year and for each quarter of that year: the home
    commune's value of the period (mart_commune_indicator) against the year's target.
    gap = actual - target (positive = ahead for higher_better indicators); on_track = actual >= target
    (higher_better) or actual <= target (lower_better); null while there is no actual value.
-#}
with

targets as (

    select * from {{ ref('indicator_targets') }}

),

periods as (

    select * from {{ ref('dim_period') }}

),

indicators as (

    select * from {{ ref('dim_indicator') }}

),

commune_values as (

    select * from {{ ref('mart_commune_indicator') }}
    where commune_code = '{{ var("home_commune_code") }}'

),

target_periods as (

    select
        targets.indicator_code,
        cast(targets.year as integer) as target_year,
        cast(targets.target_value as double) as target_value,
        targets.target_scope,
        targets.source_vi,
        targets.source_en,
        periods.period_code,
        periods.period_kind,
        periods.label_vi,
        periods.label_en

    from targets
    inner join periods
        on cast(targets.year as integer) = periods.year

),

final as (

    select
        cast({{ ntm_surrogate_key(['target_periods.indicator_code', 'target_periods.period_code']) }} as varchar)
            as plan_target_key,
        cast('{{ var("home_commune_code") }}' as varchar) as commune_code,
        cast(target_periods.indicator_code as varchar) as indicator_code,
        cast(indicators.indicator_name_vi as varchar) as indicator_name_vi,
        cast(indicators.indicator_name_en as varchar) as indicator_name_en,
        cast(target_periods.target_year as integer) as target_year,
        cast(target_periods.period_code as varchar) as period_code,
        cast(target_periods.period_kind as varchar) as period_kind,
        cast(target_periods.label_vi as varchar) as period_label_vi,
        cast(target_periods.label_en as varchar) as period_label_en,
        {{ ntm_stable_double('commune_values.value') }} as actual_value,
        cast(target_periods.target_value as double) as target_value,
        {{ ntm_stable_double('commune_values.value - target_periods.target_value') }} as gap,
        cast(
            {{ ntm_meets_threshold('commune_values.value', 'target_periods.target_value', 'indicators.direction') }}
            as boolean
        ) as is_on_track,
        cast(indicators.direction as varchar) as direction,
        cast(commune_values.value_source as varchar) as value_source,
        cast(target_periods.target_scope as varchar) as target_scope,
        cast(target_periods.source_vi as varchar) as source_vi,
        cast(target_periods.source_en as varchar) as source_en

    from target_periods
    left join indicators
        on target_periods.indicator_code = indicators.indicator_code
    left join commune_values
        on target_periods.indicator_code = commune_values.indicator_code
        and target_periods.period_code = commune_values.period_code

)

select * from final
