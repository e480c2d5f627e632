with

source as (

    select * from {{ source('raw', 'survey_answers') }}

),

renamed as (

    select
        cast(response_id as varchar) as response_id,
        cast(submitted_at as timestamp) as submitted_at,
        cast(commune_code as varchar) as commune_code,
        nullif(trim(cast(hamlet_code as varchar)), '') as hamlet_code,
        cast(period_code as varchar) as period_code,
        cast(form_code as varchar) as form_code,
        cast(question_code as varchar) as question_code,
        cast(satisfied as boolean) as is_satisfied,
        cast(respondent_hash as varchar) as respondent_hash,
        cast(_file_sha256 as varchar) as file_sha256,
        cast(_source_file as varchar) as source_file,
        cast(_source_row as bigint) as source_row

    from source

)

select * from renamed
