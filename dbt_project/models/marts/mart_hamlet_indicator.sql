{{ config(**ntm_period_incremental_config()) }}
{#-
    As-of view: hamlet values as reported under the hamlets that existed in the period (open data uses this).
    Incremental by period like fact_indicator_value (delete+insert on period_code): a row of period P is
    fact_indicator_value's row of P joined to the dimensions, so a run scoped to P (only submission files of
    P changed: the dimensions did not) replaces P and its year and leaves the other periods as they are.
    Any other change rebuilds every period (macros/periods.sql, pipeline.transform.assets).
-#}
with

fact_values as (

    select * from {{ ref('fact_indicator_value') }}

),

hamlets as (

    select * from {{ ref('dim_hamlet') }}

),

periods as (

    select * from {{ ref('dim_period') }}

),

indicators as (

    select * from {{ ref('dim_indicator') }}

),

final as (

    select
        cast(fact_values.indicator_value_key as varchar) as indicator_value_key,
        cast(fact_values.commune_code as varchar) as commune_code,
        cast(fact_values.hamlet_code as varchar) as hamlet_code,
        cast(fact_values.hamlet_key as integer) as hamlet_key,
        cast(hamlets.hamlet_name as varchar) as hamlet_name,
        cast(fact_values.existed_at_period_end as boolean) as existed_at_period_end,
        cast(fact_values.period_code as varchar) as period_code,
        cast(fact_values.period_kind as varchar) as period_kind,
        cast(periods.label_vi as varchar) as period_label_vi,
        cast(periods.label_en as varchar) as period_label_en,
        cast(fact_values.indicator_code as varchar) as indicator_code,
        cast(indicators.indicator_name_vi as varchar) as indicator_name_vi,
        cast(indicators.indicator_name_en as varchar) as indicator_name_en,
        cast(indicators.value_type as varchar) as value_type,
        cast(indicators.unit_vi as varchar) as unit_vi,
        cast(indicators.unit_en as varchar) as unit_en,
        {{ ntm_stable_double('fact_values.value') }} as value,
        {{ ntm_stable_double('fact_values.numerator') }} as numerator,
        {{ ntm_stable_double('fact_values.denominator') }} as denominator,
        cast(fact_values.threshold_applied as double) as threshold,
        cast(fact_values.met_threshold as boolean) as met_threshold,
        cast(fact_values.value_source as varchar) as value_source,
        cast(fact_values.submission_id as varchar) as submission_id

    from fact_values
    inner join periods
        on fact_values.period_code = periods.period_code
    left join hamlets
        on fact_values.hamlet_key = hamlets.hamlet_key
    left join indicators
        on fact_values.indicator_code = indicators.indicator_code
    where fact_values.location_level = 'hamlet'
    {% if is_incremental() %}
        and {{ ntm_period_scope('fact_values.period_code') }}
    {% endif %}

)

select * from final
