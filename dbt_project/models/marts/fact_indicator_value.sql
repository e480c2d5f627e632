{{ config(**ntm_period_incremental_config()) }}
{#-
    Grain: location (hamlet, or commune for commune-level indicators) x period x indicator.
    The latest accepted value (see int_indicator_values_selected), annual values reported or derived from
    quarters, with the threshold logic applied. Partitioned runs (--vars '{"period_code": "2026-Q2"}')
    delete and re-insert only that quarter and its year.
-#}
with

evaluated as (

    select * from {{ ref('int_indicator_values_evaluated') }}

),

periods as (

    select * from {{ ref('dim_period') }}

),

hamlets as (

    select * from {{ ref('stg_raw__hamlets') }}

),

hamlet_versions as (

    -- the hamlet version valid at the period end, else the last version that overlapped the period
    select
        evaluated.location_code,
        evaluated.period_code,
        first(hamlets.hamlet_key order by hamlets.valid_from desc) as hamlet_key,
        bool_or(
            hamlets.valid_from <= periods.end_date
            and (hamlets.valid_to is null or hamlets.valid_to >= periods.end_date)
        ) as existed_at_period_end

    from evaluated
    inner join periods
        on evaluated.period_code = periods.period_code
    inner join hamlets
        on evaluated.hamlet_code = hamlets.hamlet_code
        and periods.end_date >= hamlets.valid_from
        and (hamlets.valid_to is null or periods.start_date <= hamlets.valid_to)
    group by
        evaluated.location_code,
        evaluated.period_code

),

final as (

    select
        cast({{ ntm_surrogate_key([
            'evaluated.location_code', 'evaluated.period_code', 'evaluated.indicator_code'
        ]) }} as varchar) as indicator_value_key,
        cast(evaluated.location_code as varchar) as location_code,
        cast(evaluated.location_level as varchar) as location_level,
        cast(evaluated.commune_code as varchar) as commune_code,
        cast(evaluated.hamlet_code as varchar) as hamlet_code,
        cast(hamlet_versions.hamlet_key as integer) as hamlet_key,
        cast(hamlet_versions.existed_at_period_end as boolean) as existed_at_period_end,
        cast(evaluated.period_code as varchar) as period_code,
        cast(periods.period_kind as varchar) as period_kind,
        cast(periods.year as integer) as year,
        cast(evaluated.indicator_code as varchar) as indicator_code,
        {{ ntm_stable_double('evaluated.value') }} as value,
        {{ ntm_stable_double('evaluated.numerator') }} as numerator,
        {{ ntm_stable_double('evaluated.denominator') }} as denominator,
        cast(evaluated.threshold_applied as double) as threshold_applied,
        cast(evaluated.threshold_source as varchar) as threshold_source,
        cast(evaluated.met_threshold as boolean) as met_threshold,
        cast(evaluated.value_source as varchar) as value_source,
        cast(evaluated.quarters_count as integer) as quarters_count,
        cast(evaluated.unit_code as varchar) as unit_code,
        cast(evaluated.units_count as integer) as units_count,
        cast(evaluated.submission_id as varchar) as submission_id,
        cast(evaluated.submitted_at as timestamp) as submitted_at

    from evaluated
    inner join periods
        on evaluated.period_code = periods.period_code
    left join hamlet_versions
        on evaluated.location_code = hamlet_versions.location_code
        and evaluated.period_code = hamlet_versions.period_code
    {% if is_incremental() %}
        where {{ ntm_period_scope('evaluated.period_code') }}
    {% endif %}

)

select * from final
