with

source as (

    select * from {{ source('raw', 'provinces') }}

),

renamed as (

    select
        lpad(cast(province_code as varchar), 2, '0') as province_code,
        cast(name as varchar) as province_name,
        cast(division_type_vi as varchar) as division_type_vi,
        cast(division_type_en as varchar) as division_type_en,
        cast(codename as varchar) as codename

    from source

)

select * from renamed
