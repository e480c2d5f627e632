{#-
    The latest accepted value per location (hamlet, or the commune for commune-level rows) x period x
    indicator. Only the rows in force count (int_submission_values_versioned.is_in_force, roll-up rule 7.3: a
    resubmission replaces the indicators it carries; the others keep their earlier value unless it says
    "replace all" or the indicator's omitted_on_resubmission is drop).
    - Hamlet rows: when two units report the same hamlet x indicator x period, the one submitted last wins
      (then arrival_seq, then the file row). A hamlet unit that leaves hamlet_code blank on a hamlet-level
      indicator reports for itself.
    - Commune rows: the units whose type is the indicator's reporter_unit_type are combined by the
      indicator's aggregation (e.g. the cooperatives' counts are summed; ratio_of_sums sums numerators and
      denominators; last = submitted last; all_yes = 1 when every unit has 1). When no unit of that type
      reported, the value submitted last by any unit is taken (never a sum over unrelated units).
    value is completed from numerator/denominator when blank (percent: x 100).
    Roll-up rule 7.1: a hamlet row of an indicator whose missing_fraction_rule is derive_from_weight that has a
    value but neither numerator nor denominator gets denominator = the hamlet's fraction_weight (households in
    the period's year, stg_raw__hamlet_population) and numerator = value x denominator (/ 100 for percent), so
    the hamlet weighs in the commune's ratio of sums instead of being dropped while counted as reporting;
    fraction_source says which (reported | derived_households). The ingest quarantines the rows this rule
    cannot serve (missing_fraction, missing_weight).
-#}
with

values_versioned as (

    select * from {{ ref('int_submission_values_versioned') }}

),

indicators as (

    select * from {{ ref('indicators') }}

),

reporting_units as (

    select
        unit_code,
        max(unit_type) as unit_type

    from {{ ref('stg_raw__reporting_units') }}
    group by unit_code

),

hamlet_population as (

    select * from {{ ref('stg_raw__hamlet_population') }}

),

latest_versions as (

    select
        values_versioned.*,
        indicators.value_type,
        indicators.aggregation,
        indicators.reporter_unit_type,
        indicators.missing_fraction_rule,
        indicators.fraction_weight,
        reporting_units.unit_type,
        coalesce(
            values_versioned.hamlet_code,
            case
                when indicators.level = 'hamlet'
                    and regexp_matches(values_versioned.unit_code, '^[0-9]{5}-T[0-9]+$')
                    then values_versioned.unit_code
            end
        ) as location_hamlet_code

    from values_versioned
    left join indicators
        on values_versioned.indicator_code = indicators.indicator_code
    left join reporting_units
        on values_versioned.unit_code = reporting_units.unit_code
    where values_versioned.is_in_force

),

flagged as (

    select
        latest_versions.*,
        hamlet_population.households as fraction_weight_value,
        latest_versions.location_hamlet_code is not null
        and latest_versions.missing_fraction_rule = 'derive_from_weight'
        and latest_versions.fraction_weight = 'households'
        and latest_versions.value is not null
        and latest_versions.numerator is null
        and latest_versions.denominator is null as fraction_derived

    from latest_versions
    left join hamlet_population
        on latest_versions.location_hamlet_code = hamlet_population.hamlet_code
        and cast(left(latest_versions.period_code, 4) as integer) = hamlet_population.year

),

weighted as (

    select
        * exclude (numerator, denominator, fraction_weight_value),
        case
            when fraction_derived
                then value * fraction_weight_value / case when value_type = 'percent' then 100.0 else 1.0 end
            else numerator
        end as numerator,
        case
            when fraction_derived then cast(fraction_weight_value as double)
            else denominator
        end as denominator,
        case
            when fraction_derived then 'derived_households'
            when numerator is not null and denominator is not null then 'reported'
        end as fraction_source

    from flagged

),

completed as (

    select
        * exclude (value, fraction_derived),
        coalesce(
            value,
            case
                when value_type = 'percent' then {{ ntm_safe_percent('numerator', 'denominator') }}
                when value_type = 'ratio' then {{ ntm_safe_divide('numerator', 'denominator') }}
            end
        ) as value,
        coalesce(location_hamlet_code, split_part(unit_code, '-', 1)) as location_code,
        split_part(coalesce(location_hamlet_code, unit_code), '-', 1) as commune_code

    from weighted

),

hamlet_ranked as (

    select
        *,
        row_number() over (
            partition by location_code, period_code, indicator_code
            order by submitted_at desc, arrival_seq desc, source_row desc
        ) as location_rank

    from completed
    where location_hamlet_code is not null

),

hamlet_values as (

    select
        location_code,
        'hamlet' as location_level,
        commune_code,
        location_hamlet_code as hamlet_code,
        period_code,
        indicator_code,
        value,
        numerator,
        denominator,
        unit_code,
        submission_id,
        submitted_at,
        cast(1 as bigint) as units_count,
        fraction_source

    from hamlet_ranked
    where location_rank = 1

),

commune_candidates as (

    select
        *,
        coalesce(unit_type = reporter_unit_type, false) as is_reporter_type,
        bool_or(coalesce(unit_type = reporter_unit_type, false)) over (
            partition by location_code, period_code, indicator_code
        ) as has_reporter_type,
        row_number() over (
            partition by location_code, period_code, indicator_code
            order by submitted_at desc, arrival_seq desc, source_row desc
        ) as latest_rank

    from completed
    where location_hamlet_code is null

),

commune_kept as (

    select
        *,
        numerator is not null and denominator is not null as has_fraction

    from commune_candidates
    where is_reporter_type
        or (not has_reporter_type and latest_rank = 1)

),

commune_values as (

    select
        location_code,
        'commune' as location_level,
        any_value(commune_code) as commune_code,
        cast(null as varchar) as hamlet_code,
        period_code,
        indicator_code,
        case
            when count(*) = 1 then any_value(value)
            when aggregation = 'sum' then sum(value)
            when aggregation = 'mean' then avg(value)
            when aggregation = 'max' then max(value)
            when aggregation = 'all_yes' then case when min(value) = 1 then 1.0 else 0.0 end
            when aggregation = 'ratio_of_sums' and value_type = 'percent'
                then {{ ntm_safe_percent(
                    'sum(numerator) filter (where has_fraction)',
                    'sum(denominator) filter (where has_fraction)'
                ) }}
            when aggregation = 'ratio_of_sums'
                then {{ ntm_safe_divide(
                    'sum(numerator) filter (where has_fraction)',
                    'sum(denominator) filter (where has_fraction)'
                ) }}
            else first(value order by submitted_at desc, arrival_seq desc, source_row desc)
        end as value,
        case
            when count(*) = 1 then any_value(numerator)
            when aggregation in ('sum', 'ratio_of_sums') then sum(numerator) filter (where has_fraction)
            when aggregation = 'last' then first(numerator order by submitted_at desc, arrival_seq desc)
        end as numerator,
        case
            when count(*) = 1 then any_value(denominator)
            when aggregation in ('sum', 'ratio_of_sums') then sum(denominator) filter (where has_fraction)
            when aggregation = 'last' then first(denominator order by submitted_at desc, arrival_seq desc)
        end as denominator,
        first(unit_code order by submitted_at desc, arrival_seq desc) as unit_code,
        first(submission_id order by submitted_at desc, arrival_seq desc) as submission_id,
        max(submitted_at) as submitted_at,
        count(*) as units_count,
        case
            when count(*) = 1 then any_value(fraction_source)
            when bool_and(fraction_source = 'reported') then 'reported'
        end as fraction_source

    from commune_kept
    group by
        location_code,
        period_code,
        indicator_code,
        aggregation,
        value_type

),

final as (

    select * from hamlet_values
    union all
    select * from commune_values

)

select * from final
