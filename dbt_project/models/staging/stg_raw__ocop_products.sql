with

source as (

    select * from {{ source('raw', 'ocop_products') }}

),

renamed as (

    select
        cast(product_id as varchar) as product_id,
        cast(product_name as varchar) as product_name,
        cast(group_code as integer) as group_code,
        cast(subgroup as varchar) as subgroup,
        cast(producer_name as varchar) as producer_name,
        cast(producer_type as varchar) as producer_type,
        nullif(trim(cast(hamlet_code as varchar)), '') as hamlet_code,
        cast(commune_code as varchar) as commune_code,
        cast(score as double) as score,
        cast(stars as integer) as stars,
        cast(rating_level as varchar) as rating_level,
        nullif(trim(cast(certificate_no as varchar)), '') as certificate_no,
        cast(issued_on as date) as issued_on,
        cast(expires_on as date) as expires_on,
        cast(material_area_code as varchar) as material_area_code,
        cast(traceability_url as varchar) as traceability_url,
        cast(status as varchar) as status,
        cast(_file_sha256 as varchar) as file_sha256,
        cast(_source_file as varchar) as source_file,
        cast(_source_row as bigint) as source_row

    from source

)

select * from renamed
