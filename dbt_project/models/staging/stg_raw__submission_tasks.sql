with

source as (

    select * from {{ source('raw', 'submission_tasks') }}

),

renamed as (

    select
        cast(unit_code as varchar) as unit_code,
        cast(period_code as varchar) as period_code,
        cast(submitted_at as timestamp) as submitted_at,
        cast(task_code as varchar) as task_code,
        cast(task_status as varchar) as task_status,
        cast(percent_done as double) as percent_done,
        cast(note as varchar) as note,
        cast(_file_sha256 as varchar) as file_sha256,
        cast(_source_file as varchar) as source_file,
        cast(_source_row as bigint) as source_row

    from source

)

select * from renamed
