with

source as (

    select * from {{ source('raw', 'submission_values') }}

),

renamed as (

    select
        cast(unit_code as varchar) as unit_code,
        cast(period_code as varchar) as period_code,
        cast(submitted_at as timestamp) as submitted_at,
        nullif(trim(cast(hamlet_code as varchar)), '') as hamlet_code,
        cast(indicator_code as varchar) as indicator_code,
        cast(value as double) as value,
        cast(numerator as double) as numerator,
        cast(denominator as double) as denominator,
        cast(note as varchar) as note,
        cast(_file_sha256 as varchar) as file_sha256,
        cast(_source_file as varchar) as source_file,
        cast(_source_row as bigint) as source_row

    from source

)

select * from renamed
