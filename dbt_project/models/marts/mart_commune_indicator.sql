{#- Commune x period x indicator, rolled up from hamlets by each indicator's rule (as-of view). -#}
with

rolled_up as (

    select * from {{ ref('commune_indicator_pooled') }}

),

communes as (

    select * from {{ ref('dim_commune') }}

),

periods as (

    select * from {{ ref('dim_period') }}

),

indicators as (

    select * from {{ ref('dim_indicator') }}

),

final as (

    select
        cast({{ ntm_surrogate_key([
            'rolled_up.commune_code', 'rolled_up.period_code', 'rolled_up.indicator_code'
        ]) }} as varchar) as commune_indicator_key,
        cast(rolled_up.commune_code as varchar) as commune_code,
        cast(communes.commune_name as varchar) as commune_name,
        cast(rolled_up.period_code as varchar) as period_code,
        cast(periods.period_kind as varchar) as period_kind,
        cast(periods.year as integer) as year,
        cast(periods.label_vi as varchar) as period_label_vi,
        cast(periods.label_en as varchar) as period_label_en,
        cast(rolled_up.indicator_code as varchar) as indicator_code,
        cast(indicators.indicator_name_vi as varchar) as indicator_name_vi,
        cast(indicators.indicator_name_en as varchar) as indicator_name_en,
        cast(indicators.value_type as varchar) as value_type,
        cast(rolled_up.aggregation as varchar) as aggregation,
        cast(rolled_up.value_origin as varchar) as value_origin,
        {{ ntm_stable_double('rolled_up.value') }} as value,
        {{ ntm_stable_double('rolled_up.numerator') }} as numerator,
        {{ ntm_stable_double('rolled_up.denominator') }} as denominator,
        cast(rolled_up.hamlets_reporting as integer) as hamlets_reporting,
        cast(rolled_up.hamlets_meeting as integer) as hamlets_meeting,
        cast(rolled_up.hamlets_existing as integer) as hamlets_existing,
        cast(rolled_up.threshold_applied as double) as threshold,
        cast(rolled_up.met_threshold as boolean) as met_threshold,
        cast(rolled_up.value_source as varchar) as value_source,
        cast(rolled_up.last_submitted_at as timestamp) as last_submitted_at

    from rolled_up
    inner join periods
        on rolled_up.period_code = periods.period_code
    left join communes
        on rolled_up.commune_code = communes.commune_code
    left join indicators
        on rolled_up.indicator_code = indicators.indicator_code

)

select * from final
