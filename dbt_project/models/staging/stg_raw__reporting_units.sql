with

source as (

    select * from {{ source('raw', 'reporting_units') }}

),

renamed as (

    select
        cast(unit_code as varchar) as unit_code,
        cast(commune_code as varchar) as commune_code,
        cast(unit_type as varchar) as unit_type,
        cast(abbr as varchar) as abbr,
        cast(name_vi as varchar) as name_vi,
        cast(name_en as varchar) as name_en,
        cast(valid_from as date) as valid_from,
        -- inclusive last day; null = still active
        cast(nullif(cast(valid_to as varchar), '') as date) as valid_to,
        -- hamlets this unit may report values for besides the hamlets themselves (roll-up rule 7.4)
        cast(nullif(trim(cast(reports_for_hamlets as varchar)), '') as varchar) as reports_for_hamlets

    from source

)

select * from renamed
