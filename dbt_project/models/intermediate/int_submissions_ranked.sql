{#-
    One row per submission version with its rank inside (unit, period): the latest version is the one
    submitted last (submitted_at), ties broken by ingest order (arrival_seq).
    Roll-up rule 7.3 (raw/README.md): a version replaces only the indicators it carries, unless it says
    "Thay thế toàn bộ" (replace_all). replace_from_version_no is the last replace-all version up to this one
    (1 when none): versions before it no longer count once this version is in. latest_replace_from_version_no
    is the same for the latest version of (unit, period).
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

with_replace as (

    select
        ranked.*,
        coalesce(
            max(case when ranked.replace_all then ranked.version_no end) over (
                partition by ranked.unit_code, ranked.period_code
                order by ranked.version_no
                rows between unbounded preceding and current row
            ),
            1
        ) as replace_from_version_no,
        coalesce(
            max(case when ranked.replace_all then ranked.version_no end) over (
                partition by ranked.unit_code, ranked.period_code
            ),
            1
        ) as latest_replace_from_version_no

    from ranked

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
        previous_submission_id,
        replace_all,
        replace_from_version_no,
        latest_replace_from_version_no

    from with_replace

)

select * from final
