with

source as (

    select * from {{ source('raw', 'hamlet_population') }}

),

renamed as (

    select
        cast(hamlet_code as varchar) as hamlet_code,
        cast(year as integer) as year,
        cast(households as bigint) as households,
        cast(population as bigint) as population

    from source

)

select * from renamed
