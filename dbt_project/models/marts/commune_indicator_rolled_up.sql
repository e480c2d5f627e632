{#-
    Hamlet -> commune roll-up by each indicator's aggregation (as-of view: the hamlets that existed at the
    period end are the denominator of share_meeting and all_yes):
        sum            sum of hamlet values
        mean           mean of the hamlet values reported
        ratio_of_sums  sum(numerator) / sum(denominator) (x 100 for percent) over hamlets reporting both
        share_meeting  100 x hamlets meeting the threshold / hamlets that existed at the period end
                       (a hamlet that did not report counts as not meeting)
        last           the value submitted last
        max            the largest hamlet value
        all_yes        1 when every hamlet that existed at the period end reported 1, else 0
    Roll-up rule 7.2 (raw/README.md): the indicator's measure_kind decides which hamlets take part. stock
    (households, team members, shares, yes/no): only the hamlets that exist at the period end - a hamlet that
    merged away during the year is not counted again beside its successor in the year's value; flow (classes
    held, person-times): every hamlet that reported, ceased ones included. hamlets_ceased_excluded counts the
    hamlet values a stock indicator left out (they are not in hamlets_reporting either).
    Commune-level indicators pass through as reported. Should both a commune row and hamlet rows exist for
    the same commune x period x indicator, the indicator's declared level decides which one is kept.
-#}
with

fact_values as (

    select * from {{ ref('fact_indicator_value') }}

),

indicators as (

    select * from {{ ref('indicators') }}

),

hamlets_as_of as (

    select * from {{ ref('int_hamlets_as_of_period') }}

),

hamlets_existing as (

    select
        commune_code,
        period_code,
        count(distinct hamlet_code) as hamlets_existing

    from hamlets_as_of
    group by
        commune_code,
        period_code

),

hamlet_values as (

    select
        fact_values.*,
        indicators.aggregation,
        indicators.value_type,
        indicators.direction,
        indicators.measure_kind,
        hamlets_as_of.hamlet_code is not null as exists_at_period_end,
        fact_values.numerator is not null and fact_values.denominator is not null as has_fraction

    from fact_values
    inner join indicators
        on fact_values.indicator_code = indicators.indicator_code
    left join hamlets_as_of
        on fact_values.period_code = hamlets_as_of.period_code
        and fact_values.hamlet_code = hamlets_as_of.hamlet_code
    where fact_values.location_level = 'hamlet'

),

counted_values as (

    select
        *,
        measure_kind = 'flow' or exists_at_period_end as counted

    from hamlet_values

),

hamlet_aggregates as (

    select
        commune_code,
        period_code,
        indicator_code,
        aggregation,
        value_type,
        direction,
        sum(value) filter (where counted) as value_sum,
        avg(value) filter (where counted) as value_mean,
        max(value) filter (where counted) as value_max,
        first(value order by submitted_at desc, location_code desc) filter (where counted) as value_last,
        sum(numerator) filter (where has_fraction and counted) as numerator_sum,
        sum(denominator) filter (where has_fraction and counted) as denominator_sum,
        count(value) filter (where counted) as hamlets_reporting,
        count(*) filter (where not counted) as hamlets_ceased_excluded,
        count(*) filter (where met_threshold and exists_at_period_end) as hamlets_meeting,
        count(*) filter (where value = 1 and exists_at_period_end) as hamlets_yes,
        max(threshold_applied) filter (where counted) as threshold_applied,
        case
            when min(value_source) = max(value_source) then min(value_source)
            else 'mixed'
        end as value_source,
        max(submitted_at) as last_submitted_at

    from counted_values
    group by
        commune_code,
        period_code,
        indicator_code,
        aggregation,
        value_type,
        direction

),

rolled_up as (

    select
        hamlet_aggregates.commune_code,
        hamlet_aggregates.period_code,
        hamlet_aggregates.indicator_code,
        hamlet_aggregates.aggregation,
        'hamlets' as value_origin,
        case hamlet_aggregates.aggregation
            when 'sum' then hamlet_aggregates.value_sum
            when 'mean' then hamlet_aggregates.value_mean
            when 'max' then hamlet_aggregates.value_max
            when 'last' then hamlet_aggregates.value_last
            when 'ratio_of_sums'
                then
                    case
                        when hamlet_aggregates.value_type = 'percent'
                            then {{ ntm_safe_percent(
                                'hamlet_aggregates.numerator_sum', 'hamlet_aggregates.denominator_sum'
                            ) }}
                        else {{ ntm_safe_divide(
                            'hamlet_aggregates.numerator_sum', 'hamlet_aggregates.denominator_sum'
                        ) }}
                    end
            when 'share_meeting'
                then {{ ntm_safe_percent('hamlet_aggregates.hamlets_meeting', 'hamlets_existing.hamlets_existing') }}
            when 'all_yes'
                then
                    case
                        when coalesce(hamlets_existing.hamlets_existing, 0) = 0 then null
                        when hamlet_aggregates.hamlets_yes = hamlets_existing.hamlets_existing then 1.0
                        else 0.0
                    end
        end as value,
        case hamlet_aggregates.aggregation
            when 'ratio_of_sums' then hamlet_aggregates.numerator_sum
            when 'share_meeting' then hamlet_aggregates.hamlets_meeting
            when 'all_yes' then hamlet_aggregates.hamlets_yes
        end as numerator,
        case hamlet_aggregates.aggregation
            when 'ratio_of_sums' then hamlet_aggregates.denominator_sum
            when 'share_meeting' then hamlets_existing.hamlets_existing
            when 'all_yes' then hamlets_existing.hamlets_existing
        end as denominator,
        hamlet_aggregates.hamlets_reporting,
        hamlet_aggregates.hamlets_ceased_excluded,
        hamlet_aggregates.hamlets_meeting,
        coalesce(hamlets_existing.hamlets_existing, 0) as hamlets_existing,
        -- share_meeting already counts hamlets against their threshold: no threshold on the share itself
        case
            when hamlet_aggregates.aggregation = 'share_meeting' then null
            else hamlet_aggregates.threshold_applied
        end as threshold_applied,
        hamlet_aggregates.direction,
        hamlet_aggregates.value_source,
        hamlet_aggregates.last_submitted_at

    from hamlet_aggregates
    left join hamlets_existing
        on hamlet_aggregates.commune_code = hamlets_existing.commune_code
        and hamlet_aggregates.period_code = hamlets_existing.period_code

),

commune_values as (

    select
        fact_values.commune_code,
        fact_values.period_code,
        fact_values.indicator_code,
        indicators.aggregation,
        'commune_report' as value_origin,
        fact_values.value,
        fact_values.numerator,
        fact_values.denominator,
        cast(null as bigint) as hamlets_reporting,
        cast(null as bigint) as hamlets_ceased_excluded,
        cast(null as bigint) as hamlets_meeting,
        cast(null as bigint) as hamlets_existing,
        fact_values.threshold_applied,
        indicators.direction,
        fact_values.value_source,
        fact_values.submitted_at as last_submitted_at

    from fact_values
    inner join indicators
        on fact_values.indicator_code = indicators.indicator_code
    where fact_values.location_level = 'commune'

),

unioned as (

    select * from rolled_up
    union all
    select * from commune_values

),

deduplicated as (

    select
        unioned.*,
        row_number() over (
            partition by unioned.commune_code, unioned.period_code, unioned.indicator_code
            order by
                case
                    when indicators.level = 'hamlet' and unioned.value_origin = 'hamlets' then 0
                    when indicators.level = 'commune' and unioned.value_origin = 'commune_report' then 0
                    else 1
                end
        ) as origin_rank

    from unioned
    left join indicators
        on unioned.indicator_code = indicators.indicator_code

),

final as (

    select
        * exclude (origin_rank),
        {{ ntm_meets_threshold('value', 'threshold_applied', 'direction') }} as met_threshold

    from deduplicated
    where origin_rank = 1

)

select * from final
