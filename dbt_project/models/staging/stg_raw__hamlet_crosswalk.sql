with

source as (

    select * from {{ source('raw', 'hamlet_crosswalk') }}

),

renamed as (

    select
        cast(predecessor_code as varchar) as predecessor_code,
        cast(successor_code as varchar) as successor_code,
        cast(change_type as varchar) as change_type,
        cast(effective_date as date) as effective_date,
        cast(population_share as double) as population_share

    from source

)

select * from renamed
