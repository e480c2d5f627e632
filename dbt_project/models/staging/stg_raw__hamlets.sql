with

source as (

    select * from {{ source('raw', 'hamlets') }}

),

renamed as (

    select
        cast(hamlet_key as integer) as hamlet_key,
        cast(hamlet_code as varchar) as hamlet_code,
        cast(commune_code as varchar) as commune_code,
        cast(name as varchar) as hamlet_name,
        cast(hamlet_type as varchar) as hamlet_type,
        cast(valid_from as date) as valid_from,
        -- inclusive last day of the version; null = current
        cast(nullif(cast(valid_to as varchar), '') as date) as valid_to

    from source

)

select * from renamed
