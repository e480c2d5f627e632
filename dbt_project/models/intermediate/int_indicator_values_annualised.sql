{#-
    Quarterly values as reported, plus one annual value per location x year x indicator:
    - a value reported directly for the year (period 'YYYY') wins (value_source = 'reported');
    - otherwise it is derived from that year's quarters by the indicator's annual_rule
      (value_source = 'derived_from_quarters'):
        sum            sum of the quarters
        mean           mean of the quarters that have a value
        last           the latest quarter's value (with its numerator/denominator and submission)
        max            the largest quarterly value
        ratio_of_sums  sum(numerator) / sum(denominator) (x 100 for percent); never the mean of ratios
    Annualisation happens at the location grain (hamlet or commune), before any roll-up.
-#}
with

selected as (

    select * from {{ ref('int_indicator_values_selected') }}

),

indicators as (

    select * from {{ ref('indicators') }}

),

quarterly as (

    select
        selected.*,
        cast(left(selected.period_code, 4) as integer) as year

    from selected
    where selected.period_code like '____-Q_'

),

reported_annual as (

    select *
    from selected
    where length(period_code) = 4

),

quarterly_with_rule as (

    select
        quarterly.*,
        indicators.annual_rule,
        indicators.value_type,
        quarterly.numerator is not null and quarterly.denominator is not null as has_fraction

    from quarterly
    left join indicators
        on quarterly.indicator_code = indicators.indicator_code

),

derived_annual as (

    select
        location_code,
        any_value(location_level) as location_level,
        any_value(commune_code) as commune_code,
        any_value(hamlet_code) as hamlet_code,
        cast(year as varchar) as period_code,
        indicator_code,
        case annual_rule
            when 'sum' then sum(value)
            when 'mean' then avg(value)
            when 'max' then max(value)
            when 'last' then first(value order by period_code desc)
            when 'ratio_of_sums'
                then
                    case
                        when value_type = 'percent'
                            then {{ ntm_safe_percent(
                                'sum(numerator) filter (where has_fraction)',
                                'sum(denominator) filter (where has_fraction)'
                            ) }}
                        else {{ ntm_safe_divide(
                            'sum(numerator) filter (where has_fraction)',
                            'sum(denominator) filter (where has_fraction)'
                        ) }}
                    end
        end as value,
        case annual_rule
            when 'sum' then sum(numerator)
            when 'ratio_of_sums' then sum(numerator) filter (where has_fraction)
            when 'last' then first(numerator order by period_code desc)
        end as numerator,
        case annual_rule
            when 'sum' then sum(denominator)
            when 'ratio_of_sums' then sum(denominator) filter (where has_fraction)
            when 'last' then first(denominator order by period_code desc)
        end as denominator,
        first(unit_code order by period_code desc) as unit_code,
        case annual_rule
            when 'last' then first(submission_id order by period_code desc)
        end as submission_id,
        max(submitted_at) as submitted_at,
        max(units_count) as units_count,
        count(*) as quarters_count

    from quarterly_with_rule
    group by
        location_code,
        year,
        indicator_code,
        annual_rule,
        value_type

),

unioned as (

    select
        location_code,
        location_level,
        commune_code,
        hamlet_code,
        period_code,
        indicator_code,
        value,
        numerator,
        denominator,
        unit_code,
        submission_id,
        submitted_at,
        units_count,
        'reported' as value_source,
        cast(null as bigint) as quarters_count

    from selected

    union all

    select
        derived_annual.location_code,
        derived_annual.location_level,
        derived_annual.commune_code,
        derived_annual.hamlet_code,
        derived_annual.period_code,
        derived_annual.indicator_code,
        derived_annual.value,
        derived_annual.numerator,
        derived_annual.denominator,
        derived_annual.unit_code,
        derived_annual.submission_id,
        derived_annual.submitted_at,
        derived_annual.units_count,
        'derived_from_quarters' as value_source,
        derived_annual.quarters_count

    from derived_annual
    where
        not exists (
            select 1
            from reported_annual
            where
                reported_annual.location_code = derived_annual.location_code
                and reported_annual.period_code = derived_annual.period_code
                and reported_annual.indicator_code = derived_annual.indicator_code
        )

),

final as (

    select * from unioned

)

select * from final
