{#-
    Every indicator value row tied to its submission version (file, unit, period). A key repeated inside
    one file keeps its last row. Superseded versions stay here (is_latest_version = false).
    is_in_force applies roll-up rule 7.3 (raw/README.md): for each (unit, period, hamlet, indicator) the row of
    the latest version that carries the key is in force, provided that version is not older than the last
    "replace all" version (latest_replace_from_version_no) and, when it is older than the latest version, the
    indicator's catalog rule omitted_on_resubmission is keep_earlier (drop: only the latest version counts).
-#}
with

submission_values as (

    select * from {{ ref('stg_raw__submission_values') }}

),

submissions as (

    select * from {{ ref('int_submissions_ranked') }}

),

indicators as (

    select * from {{ ref('indicators') }}

),

joined as (

    select
        submissions.submission_id,
        submissions.version_no,
        submissions.is_latest_version,
        submissions.latest_replace_from_version_no,
        submissions.arrival_seq,
        submission_values.unit_code,
        submission_values.period_code,
        submissions.submitted_at,
        submission_values.hamlet_code,
        submission_values.indicator_code,
        submission_values.value,
        submission_values.numerator,
        submission_values.denominator,
        submission_values.source_file,
        submission_values.source_row,
        -- the period is the submission's own (joined on it above): partitioning by it as well changes no rank,
        -- and lets a filter on period_code (a period run, macros/periods.sql) reach the raw scan
        row_number() over (
            partition by
                submission_values.period_code,
                submissions.submission_id,
                submission_values.hamlet_code,
                submission_values.indicator_code
            order by submission_values.source_row desc
        ) as row_rank_in_file

    from submission_values
    inner join submissions
        on submission_values.file_sha256 = submissions.file_sha256
        and submission_values.unit_code = submissions.unit_code
        and submission_values.period_code = submissions.period_code

),

deduplicated as (

    select * exclude (row_rank_in_file)
    from joined
    where row_rank_in_file = 1

),

keyed as (

    select
        deduplicated.*,
        coalesce(indicators.omitted_on_resubmission, 'keep_earlier') as omitted_on_resubmission,
        row_number() over (
            partition by
                deduplicated.unit_code,
                deduplicated.period_code,
                deduplicated.hamlet_code,
                deduplicated.indicator_code
            order by deduplicated.version_no desc
        ) as key_version_rank

    from deduplicated
    left join indicators
        on deduplicated.indicator_code = indicators.indicator_code

),

final as (

    select
        * exclude (key_version_rank, latest_replace_from_version_no),
        key_version_rank = 1
        and version_no >= latest_replace_from_version_no
        and (is_latest_version or omitted_on_resubmission = 'keep_earlier') as is_in_force

    from keyed

)

select * from final
