{#-
    The restated view: hamlet values of every period mapped to today's hamlets through raw.hamlet_crosswalk,
    so that a merger or a split does not break a time series.
    - A hamlet code that is not current is followed along the crosswalk (several steps if needed) until a
      current hamlet; each step multiplies the predecessor's population_share. A rename that keeps the code
      is not a step.
    - count values (and every numerator / denominator) are split by population_share and summed on the
      successor: merge = sum of the predecessors, split = the predecessor's total x share.
    - percent / ratio values are recomputed on the successor from the split numerators and denominators
      (sum(num) / sum(den), x 100 for percent); without numerator/denominator, the mean weighted by
      share x population of the contributor in that year.
    - yesno values: the successor takes the value of the largest contributor (share x population), ties
      by hamlet code.
    Values whose hamlet never reaches a current hamlet are left out (none in a consistent registry).
-#}
with

fact_values as (

    select * from {{ ref('fact_indicator_value') }}

),

crosswalk as (

    select * from {{ ref('stg_raw__hamlet_crosswalk') }}

),

hamlets as (

    select * from {{ ref('stg_raw__hamlets') }}

),

hamlet_population as (

    select * from {{ ref('stg_raw__hamlet_population') }}

),

indicators as (

    select * from {{ ref('indicators') }}

),

current_hamlets as (

    select distinct hamlet_code
    from hamlets
    where valid_to is null

),

steps as (

    select
        predecessor_code,
        successor_code,
        population_share

    from crosswalk
    where predecessor_code <> successor_code

),

origins as (

    select distinct hamlet_code as origin_code
    from fact_values
    where location_level = 'hamlet'

),

walk as (

    -- nested so that the model itself starts with a plain `with` (dbt injects unit-test fixtures there)
    with recursive steps_walked (origin_code, hamlet_code, share, depth) as (

        select
            origins.origin_code,
            origins.origin_code as hamlet_code,
            cast(1.0 as double) as share,
            0 as depth

        from origins

        union all

        select
            steps_walked.origin_code,
            steps.successor_code,
            steps_walked.share * steps.population_share,
            steps_walked.depth + 1

        from steps_walked
        inner join steps
            on steps_walked.hamlet_code = steps.predecessor_code
        where steps_walked.depth < 10
            and steps_walked.hamlet_code not in (select current_hamlets.hamlet_code from current_hamlets)

    )

    select * from steps_walked

),

mapping as (

    select
        walk.origin_code,
        walk.hamlet_code as current_hamlet_code,
        sum(walk.share) as share

    from walk
    inner join current_hamlets
        on walk.hamlet_code = current_hamlets.hamlet_code
    group by
        walk.origin_code,
        walk.hamlet_code

),

contributions as (

    select
        fact_values.period_code,
        fact_values.period_kind,
        fact_values.year,
        fact_values.commune_code,
        fact_values.indicator_code,
        fact_values.hamlet_code as origin_code,
        mapping.current_hamlet_code,
        mapping.share,
        indicators.value_type,
        indicators.direction,
        fact_values.threshold_applied,
        fact_values.value_source,
        fact_values.value,
        fact_values.numerator,
        fact_values.denominator,
        fact_values.numerator is not null and fact_values.denominator is not null as has_fraction,
        mapping.share * coalesce(population.population, 1) as weight

    from fact_values
    inner join mapping
        on fact_values.hamlet_code = mapping.origin_code
    left join indicators
        on fact_values.indicator_code = indicators.indicator_code
    left join hamlet_population as population
        on fact_values.hamlet_code = population.hamlet_code
        and fact_values.year = population.year
    where fact_values.location_level = 'hamlet'

),

restated as (

    select
        period_code,
        period_kind,
        any_value(commune_code) as commune_code,
        indicator_code,
        current_hamlet_code as hamlet_code,
        value_type,
        direction,
        case
            when value_type = 'yesno' then first(value order by weight desc, origin_code asc)
            when value_type in ('percent', 'ratio') and bool_and(has_fraction)
                then
                    case
                        when value_type = 'percent'
                            then {{ ntm_safe_percent('sum(numerator * share)', 'sum(denominator * share)') }}
                        else {{ ntm_safe_divide('sum(numerator * share)', 'sum(denominator * share)') }}
                    end
            when value_type in ('percent', 'ratio')
                then {{ ntm_safe_divide(
                    'sum(value * weight) filter (where value is not null)',
                    'sum(weight) filter (where value is not null)'
                ) }}
            else sum(value * share)
        end as value,
        sum(numerator * share) as numerator,
        sum(denominator * share) as denominator,
        max(threshold_applied) as threshold_applied,
        case
            when min(value_source) = max(value_source) then min(value_source)
            else 'mixed'
        end as value_source,
        string_agg(origin_code || ':' || round(share, 4), ';' order by origin_code) as contributors,
        count(*) as contributors_count,
        bool_or(origin_code <> current_hamlet_code) as is_restated

    from contributions
    group by
        period_code,
        period_kind,
        indicator_code,
        current_hamlet_code,
        value_type,
        direction

),

final as (

    select
        *,
        {{ ntm_meets_threshold('value', 'threshold_applied', 'direction') }} as met_threshold

    from restated

)

select * from final
