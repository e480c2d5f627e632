{{ config(**ntm_period_incremental_config()) }}
{#-
    Grain: unit x period x version (one row per submitted file version).
    due_at: units report through the 15th of the quarter's last month (15 Mar, 15 Jun, 15 Sep, 15 Dec; annual report: 15 Dec), 23:59:59 Asia/Ho_Chi_Minh;
    status: superseded (a later version exists), else on_time / late by this version's submitted_at.
-#}
with

submissions as (

    select * from {{ ref('int_submissions_ranked') }}

),

periods as (

    select * from {{ ref('dim_period') }}

),

submission_values as (

    select * from {{ ref('int_submission_values_versioned') }}

),

submission_tasks as (

    select * from {{ ref('stg_raw__submission_tasks') }}

),

value_counts as (

    select
        submission_id,
        count(*) as value_rows

    from submission_values
    group by submission_id

),

task_counts as (

    select
        file_sha256,
        unit_code,
        period_code,
        count(*) as task_rows

    from submission_tasks
    group by
        file_sha256,
        unit_code,
        period_code

),

timed as (

    select
        submissions.*,
        periods.period_kind,
        periods.unit_due_date,
        cast(periods.unit_due_date as timestamp) + interval 86399 second as due_at

    from submissions
    inner join periods
        on submissions.period_code = periods.period_code

),

final as (

    select
        cast({{ ntm_surrogate_key(['timed.submission_id']) }} as varchar) as submission_key,
        cast(timed.submission_id as varchar) as submission_id,
        cast(timed.unit_code as varchar) as unit_code,
        cast(timed.period_code as varchar) as period_code,
        cast(timed.period_kind as varchar) as period_kind,
        cast(timed.version_no as integer) as version_no,
        cast(timed.versions_count as integer) as versions_count,
        cast(timed.is_latest_version as boolean) as is_latest_version,
        cast(timed.previous_submission_id as varchar) as previous_submission_id,
        cast(timed.submitted_at as timestamp) as submitted_at,
        cast(timed.arrival_seq as bigint) as arrival_seq,
        cast(timed.due_at as timestamp) as due_at,
        cast(timed.submitted_at <= timed.due_at as boolean) as is_on_time,
        cast(
            case
                when timed.submitted_at > timed.due_at
                    then date_diff('day', timed.unit_due_date, cast(timed.submitted_at as date))
                else 0
            end
            as integer
        ) as days_late,
        cast(
            case
                when not timed.is_latest_version then 'superseded'
                when timed.submitted_at <= timed.due_at then 'on_time'
                else 'late'
            end
            as varchar
        ) as status,
        cast(timed.rows_loaded as bigint) as rows_loaded,
        cast(timed.rows_quarantined as bigint) as rows_quarantined,
        cast(coalesce(value_counts.value_rows, 0) as bigint) as value_rows,
        cast(coalesce(task_counts.task_rows, 0) as bigint) as task_rows,
        cast(timed.source_file as varchar) as source_file,
        cast(timed.file_sha256 as varchar) as file_sha256

    from timed
    left join value_counts
        on timed.submission_id = value_counts.submission_id
    left join task_counts
        on timed.file_sha256 = task_counts.file_sha256
        and timed.unit_code = task_counts.unit_code
        and timed.period_code = task_counts.period_code
    {% if is_incremental() %}
        where {{ ntm_period_scope('timed.period_code') }}
    {% endif %}

)

select * from final
