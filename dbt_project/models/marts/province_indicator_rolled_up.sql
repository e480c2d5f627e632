{#-
    Commune -> province roll-up by the same rule over the communes of commune_indicator_pooled (rolled up
    here from hamlets, or, at a province-level instance, taken from each commune's report package in use):
        sum / mean / max over commune values; last = the commune value submitted last;
        ratio_of_sums = sum of communes' numerators / sum of denominators (x 100 for percent);
        share_meeting = hamlets meeting / hamlets existing pooled over all communes (a share of hamlets,
        not a mean of commune shares); all_yes = 1 when every commune present has 1.
-#}
with

commune_values as (

    select * from {{ ref('commune_indicator_pooled') }}

),

communes as (

    select * from {{ ref('dim_commune') }}

),

indicators as (

    select * from {{ ref('indicators') }}

),

joined as (

    select
        commune_values.*,
        communes.province_code,
        indicators.value_type,
        commune_values.numerator is not null and commune_values.denominator is not null as has_fraction

    from commune_values
    inner join communes
        on commune_values.commune_code = communes.commune_code
    left join indicators
        on commune_values.indicator_code = indicators.indicator_code

),

aggregated as (

    select
        province_code,
        period_code,
        indicator_code,
        aggregation,
        value_type,
        direction,
        sum(value) as value_sum,
        avg(value) as value_mean,
        max(value) as value_max,
        min(value) as value_min,
        first(value order by last_submitted_at desc, commune_code desc) as value_last,
        sum(numerator) filter (where has_fraction) as numerator_sum,
        sum(denominator) filter (where has_fraction) as denominator_sum,
        sum(hamlets_meeting) as hamlets_meeting,
        sum(hamlets_existing) as hamlets_existing,
        count(value) as communes_reporting,
        max(threshold_applied) as threshold_applied,
        case
            when min(value_source) = max(value_source) then min(value_source)
            else 'mixed'
        end as value_source,
        max(last_submitted_at) as last_submitted_at

    from joined
    group by
        province_code,
        period_code,
        indicator_code,
        aggregation,
        value_type,
        direction

),

computed as (

    select
        province_code,
        period_code,
        indicator_code,
        aggregation,
        case aggregation
            when 'sum' then value_sum
            when 'mean' then value_mean
            when 'max' then value_max
            when 'last' then value_last
            when 'ratio_of_sums'
                then
                    case
                        when value_type = 'percent' then {{ ntm_safe_percent('numerator_sum', 'denominator_sum') }}
                        else {{ ntm_safe_divide('numerator_sum', 'denominator_sum') }}
                    end
            when 'share_meeting' then {{ ntm_safe_percent('hamlets_meeting', 'hamlets_existing') }}
            when 'all_yes' then case when value_min = 1 then 1.0 when value_min is not null then 0.0 end
        end as value,
        case aggregation
            when 'ratio_of_sums' then numerator_sum
            when 'share_meeting' then hamlets_meeting
        end as numerator,
        case aggregation
            when 'ratio_of_sums' then denominator_sum
            when 'share_meeting' then hamlets_existing
        end as denominator,
        communes_reporting,
        hamlets_meeting,
        hamlets_existing,
        threshold_applied,
        direction,
        value_source,
        last_submitted_at

    from aggregated

),

final as (

    select
        *,
        {{ ntm_meets_threshold('value', 'threshold_applied', 'direction') }} as met_threshold

    from computed

)

select * from final
