with

communes as (

    select * from {{ ref('stg_raw__communes') }}

),

provinces as (

    select * from {{ ref('stg_raw__provinces') }}

),

communes_group as (

    select * from {{ ref('communes_group') }}

),

final as (

    select
        cast({{ ntm_surrogate_key(['communes.commune_code']) }} as varchar) as commune_key,
        cast(communes.commune_code as varchar) as commune_code,
        cast(communes.commune_name as varchar) as commune_name,
        cast(communes.division_type_vi as varchar) as division_type_vi,
        cast(communes.division_type_en as varchar) as division_type_en,
        cast(communes.codename as varchar) as codename,
        cast(communes.province_code as varchar) as province_code,
        cast(provinces.province_name as varchar) as province_name,
        -- QĐ 51/2025 commune group; communes not listed in the seed are group 2
        cast(coalesce(communes_group.commune_group, 2) as integer) as commune_group,
        cast(communes.commune_code = '{{ var("home_commune_code") }}' as boolean) as is_home_commune

    from communes
    left join provinces
        on communes.province_code = provinces.province_code
    left join communes_group
        on communes.commune_code = lpad(cast(communes_group.commune_code as varchar), 5, '0')

)

select * from final
