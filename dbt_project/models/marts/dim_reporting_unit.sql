{#- One row per reporting-unit version (validity-dated, like the registry). -#}
with

reporting_units as (

    select * from {{ ref('stg_raw__reporting_units') }}

),

unit_types as (

    select * from {{ ref('reporting_unit_types') }}

),

final as (

    select
        cast({{ ntm_surrogate_key(['reporting_units.unit_code', 'reporting_units.valid_from']) }} as varchar)
            as reporting_unit_key,
        cast(reporting_units.unit_code as varchar) as unit_code,
        cast(reporting_units.commune_code as varchar) as commune_code,
        cast(reporting_units.unit_type as varchar) as unit_type,
        cast(reporting_units.abbr as varchar) as abbr,
        cast(reporting_units.name_vi as varchar) as unit_name_vi,
        cast(reporting_units.name_en as varchar) as unit_name_en,
        cast(unit_types.name_vi as varchar) as unit_type_name_vi,
        cast(unit_types.name_en as varchar) as unit_type_name_en,
        cast(coalesce(unit_types.reports_quarterly, true) as boolean) as reports_quarterly,
        cast(coalesce(unit_types.reports_annual, true) as boolean) as reports_annual,
        cast(reporting_units.valid_from as date) as valid_from,
        cast(reporting_units.valid_to as date) as valid_to,
        cast(reporting_units.valid_to is null as boolean) as is_current

    from reporting_units
    left join unit_types
        on reporting_units.unit_type = unit_types.unit_type

)

select * from final
