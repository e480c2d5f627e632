{{ config(**ntm_period_incremental_config()) }}
{#-
    Grain: plan task x reporting unit x period, from the latest version of the unit's report for the period
    (a task repeated in one file keeps its last row). Notes (free text) are not carried.
-#}
with

submission_tasks as (

    select * from {{ ref('stg_raw__submission_tasks') }}

),

submissions as (

    select * from {{ ref('int_submissions_ranked') }}

),

plan_tasks as (

    select * from {{ ref('dim_plan_task') }}

),

reporting_units as (

    select
        unit_code,
        max(abbr) as abbr

    from {{ ref('stg_raw__reporting_units') }}
    group by unit_code

),

latest as (

    select
        submission_tasks.*,
        submissions.submission_id,
        submissions.submitted_at as version_submitted_at,
        row_number() over (
            partition by submission_tasks.unit_code, submission_tasks.period_code, submission_tasks.task_code
            order by submission_tasks.source_row desc
        ) as row_rank

    from submission_tasks
    inner join submissions
        on submission_tasks.file_sha256 = submissions.file_sha256
        and submission_tasks.unit_code = submissions.unit_code
        and submission_tasks.period_code = submissions.period_code
    where submissions.is_latest_version

),

final as (

    select
        cast({{ ntm_surrogate_key(['latest.task_code', 'latest.unit_code', 'latest.period_code']) }} as varchar)
            as task_progress_key,
        cast(latest.task_code as varchar) as task_code,
        cast(latest.unit_code as varchar) as unit_code,
        cast(latest.period_code as varchar) as period_code,
        cast(latest.task_status as varchar) as task_status,
        cast(latest.percent_done as double) as percent_done,
        cast(plan_tasks.lead_unit_abbr = reporting_units.abbr as boolean) as is_lead_unit,
        cast(latest.submission_id as varchar) as submission_id,
        cast(latest.version_submitted_at as timestamp) as submitted_at

    from latest
    left join plan_tasks
        on latest.task_code = plan_tasks.task_code
    left join reporting_units
        on latest.unit_code = reporting_units.unit_code
    where latest.row_rank = 1
        {% if is_incremental() %}
            and {{ ntm_period_scope('latest.period_code') }}
        {% endif %}

)

select * from final
