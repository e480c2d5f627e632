with

source as (

    select * from {{ source('raw', 'submissions') }}

),

renamed as (

    select
        cast(submission_id as varchar) as submission_id,
        cast(unit_code as varchar) as unit_code,
        cast(period_code as varchar) as period_code,
        cast(submitted_at as timestamp) as submitted_at,
        cast(arrival_seq as bigint) as arrival_seq,
        cast(_file_sha256 as varchar) as file_sha256,
        cast(_source_file as varchar) as source_file,
        cast(rows_loaded as bigint) as rows_loaded,
        cast(rows_quarantined as bigint) as rows_quarantined,
        -- optional template column "Thay thế toàn bộ" (roll-up rule 7.3); absent = replace only what it carries
        coalesce(cast(replace_all as boolean), false) as replace_all

    from source

)

select * from renamed
