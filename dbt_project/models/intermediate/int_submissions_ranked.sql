{#-
    One row per submission version with its rank inside (unit, period): the latest version is the one
    submitted last (submitted_at), ties broken by ingest order (arrival_seq).
-#}
with

submissions as (

    select * from {{ ref('stg_raw__submissions') }}

),

ranked as (

    select
        submissions.*,
        row_number() over (
            partition by submissions.unit_code, submissions.period_code
            order by submissions.submitted_at, submissions.arrival_seq
        ) as version_no,
        row_number() over (
            partition by submissions.unit_code, submissions.period_code
            order by submissions.submitted_at desc, submissions.arrival_seq desc
        ) as version_rank_desc,
        count(*) over (partition by submissions.unit_code, submissions.period_code) as versions_count,
        lag(submissions.submission_id) over (
            partition by submissions.unit_code, submissions.period_code
            order by submissions.submitted_at, submissions.arrival_seq
        ) as previous_submission_id

    from submissions

),

final as (

    select
        submission_id,
        unit_code,
        period_code,
        submitted_at,
        arrival_seq,
        file_sha256,
        source_file,
        rows_loaded,
        rows_quarantined,
        version_no,
        versions_count,
        version_rank_desc = 1 as is_latest_version,
        previous_submission_id

    from ranked

)

select * from final
