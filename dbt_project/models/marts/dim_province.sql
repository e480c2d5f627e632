with

provinces as (

    select * from {{ ref('stg_raw__provinces') }}

),

communes as (

    select * from {{ ref('stg_raw__communes') }}

),

commune_counts as (

    select
        province_code,
        count(*) as communes_count

    from communes
    group by province_code

),

final as (

    select
        cast({{ ntm_surrogate_key(['provinces.province_code']) }} as varchar) as province_key,
        cast(provinces.province_code as varchar) as province_code,
        cast(provinces.province_name as varchar) as province_name,
        cast(provinces.division_type_vi as varchar) as division_type_vi,
        cast(provinces.division_type_en as varchar) as division_type_en,
        cast(provinces.codename as varchar) as codename,
        cast(coalesce(commune_counts.communes_count, 0) as integer) as communes_count,
        cast(
            provinces.province_code in (
                select communes.province_code
                from communes
                where communes.commune_code = '{{ var("home_commune_code") }}'
            )
            as boolean
        ) as is_home_province

    from provinces
    left join commune_counts
        on provinces.province_code = commune_counts.province_code

)

select * from final
