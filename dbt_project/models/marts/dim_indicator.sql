with

indicators as (

    select * from {{ ref('indicators') }}

),

criteria_sets as (

    select * from {{ ref('criteria_sets') }}

),

indicator_thresholds as (

    select * from {{ ref('indicator_thresholds') }}

),

communes_group as (

    select * from {{ ref('communes_group') }}

),

home_group as (

    select coalesce(max(commune_group), 2) as commune_group
    from communes_group
    where lpad(cast(commune_code as varchar), 5, '0') = '{{ var("home_commune_code") }}'

),

home_thresholds as (

    select indicator_thresholds.*
    from indicator_thresholds
    inner join home_group
        on indicator_thresholds.commune_group = home_group.commune_group

),

final as (

    select
        cast({{ ntm_surrogate_key(['indicators.indicator_code']) }} as varchar) as indicator_key,
        cast(indicators.indicator_code as varchar) as indicator_code,
        cast(indicators.criteria_set as varchar) as criteria_set,
        cast(criteria_sets.name_vi as varchar) as criteria_set_name_vi,
        cast(criteria_sets.name_en as varchar) as criteria_set_name_en,
        cast(criteria_sets.legal_basis as varchar) as legal_basis,
        cast(indicators.criterion_code as varchar) as criterion_code,
        cast(indicators.name_vi as varchar) as indicator_name_vi,
        cast(indicators.name_en as varchar) as indicator_name_en,
        cast(indicators.unit_vi as varchar) as unit_vi,
        cast(indicators.unit_en as varchar) as unit_en,
        cast(indicators.value_type as varchar) as value_type,
        cast(indicators.level as varchar) as level,
        cast(indicators.aggregation as varchar) as aggregation,
        cast(indicators.annual_rule as varchar) as annual_rule,
        cast(indicators.direction as varchar) as direction,
        cast(indicators.threshold as double) as default_threshold,
        cast(coalesce(home_thresholds.threshold, indicators.threshold) as double) as home_commune_threshold,
        cast(indicators.min_value as double) as min_value,
        cast(indicators.max_value as double) as max_value,
        cast(indicators.reporter_unit_type as varchar) as reporter_unit_type,
        cast(indicators.valid_from as date) as valid_from,
        cast(indicators.valid_to as date) as valid_to,
        -- the roll-up rules the indicator declares (raw/README.md section 7)
        cast(indicators.measure_kind as varchar) as measure_kind,
        cast(indicators.missing_fraction_rule as varchar) as missing_fraction_rule,
        cast(indicators.fraction_weight as varchar) as fraction_weight,
        cast(indicators.omitted_on_resubmission as varchar) as omitted_on_resubmission,
        cast(indicators.hamlet_reporters as varchar) as hamlet_reporters

    from indicators
    left join criteria_sets
        on indicators.criteria_set = criteria_sets.criteria_set
    left join home_thresholds
        on indicators.indicator_code = home_thresholds.indicator_code

)

select * from final
