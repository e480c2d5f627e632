with

source as (

    select * from {{ source('raw', 'communes') }}

),

renamed as (

    select
        lpad(cast(commune_code as varchar), 5, '0') as commune_code,
        cast(name as varchar) as commune_name,
        cast(division_type_vi as varchar) as division_type_vi,
        cast(division_type_en as varchar) as division_type_en,
        lpad(cast(province_code as varchar), 2, '0') as province_code,
        cast(codename as varchar) as codename

    from source

)

select * from renamed
