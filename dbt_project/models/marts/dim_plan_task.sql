with

plan_tasks as (

    select * from {{ ref('plan_tasks') }}

),

final as (

    select
        cast({{ ntm_surrogate_key(['task_code']) }} as varchar) as plan_task_key,
        cast(task_code as varchar) as task_code,
        cast(section_code as varchar) as section_code,
        cast(title_vi as varchar) as title_vi,
        cast(title_en as varchar) as title_en,
        cast(lead_unit_abbr as varchar) as lead_unit_abbr,
        cast('{{ var("home_commune_code") }}-' || lead_unit_abbr as varchar) as lead_unit_code,
        cast(coordinating_unit_abbrs as varchar) as coordinating_unit_abbrs,
        cast(timeframe_start as integer) as timeframe_start,
        cast(timeframe_end as integer) as timeframe_end

    from plan_tasks

)

select * from final
