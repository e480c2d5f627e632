{#- Free text is personal data: this view exists for completeness (one model per raw table) and feeds no mart. -#}
with

source as (

    select * from {{ source('raw', 'survey_reasons') }}

),

renamed as (

    select
        cast(response_id as varchar) as response_id,
        cast(question_code as varchar) as question_code,
        cast(reason_text as varchar) as reason_text

    from source

)

select * from renamed
