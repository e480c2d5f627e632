{{ config(**ntm_period_incremental_config()) }}
{#-
    Restated view: every period's hamlet values mapped to today's hamlets (indicator_value_restated).
    Incremental by period (delete+insert on period_code), although it restates earlier periods: what
    restates them is the hamlet registry, the crosswalk and the population (raw/reference), and a change of
    any of those is a reference change, which rebuilds every period. A run scoped to period P has only new
    submission files of P: the restated rows of another period Q are computed from Q's values, the crosswalk
    and Q's year's population, none of which changed, so only P (and its year) is replaced.
-#}
with

restated as (

    select * from {{ ref('indicator_value_restated') }}

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
        cast({{ ntm_surrogate_key([
            'restated.hamlet_code', 'restated.period_code', 'restated.indicator_code'
        ]) }} as varchar) as restated_value_key,
        cast(restated.commune_code as varchar) as commune_code,
        cast(restated.hamlet_code as varchar) as hamlet_code,
        cast(hamlets.hamlet_key as integer) as hamlet_key,
        cast(hamlets.hamlet_name as varchar) as hamlet_name,
        cast(restated.period_code as varchar) as period_code,
        cast(restated.period_kind as varchar) as period_kind,
        cast(periods.label_vi as varchar) as period_label_vi,
        cast(periods.label_en as varchar) as period_label_en,
        cast(restated.indicator_code as varchar) as indicator_code,
        cast(indicators.indicator_name_vi as varchar) as indicator_name_vi,
        cast(indicators.indicator_name_en as varchar) as indicator_name_en,
        cast(restated.value_type as varchar) as value_type,
        {{ ntm_stable_double('restated.value') }} as value,
        {{ ntm_stable_double('restated.numerator') }} as numerator,
        {{ ntm_stable_double('restated.denominator') }} as denominator,
        cast(restated.threshold_applied as double) as threshold,
        cast(restated.met_threshold as boolean) as met_threshold,
        cast(restated.value_source as varchar) as value_source,
        cast(restated.is_restated as boolean) as is_restated,
        cast(restated.contributors as varchar) as contributors,
        cast(restated.contributors_count as integer) as contributors_count

    from restated
    inner join periods
        on restated.period_code = periods.period_code
    left join hamlets
        on restated.hamlet_code = hamlets.hamlet_code
        and hamlets.is_current
    left join indicators
        on restated.indicator_code = indicators.indicator_code
    {% if is_incremental() %}
        where {{ ntm_period_scope('restated.period_code') }}
    {% endif %}

)

select * from final
