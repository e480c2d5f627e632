{#-
    Every indicator value row tied to its submission version (file, unit, period). A key repeated inside
    one file keeps its last row. Superseded versions stay here (is_latest_version = false).
-#}
with

submission_values as (

    select * from {{ ref('stg_raw__submission_values') }}

),

submissions as (

    select * from {{ ref('int_submissions_ranked') }}

),

joined as (

    select
        submissions.submission_id,
        submissions.version_no,
        submissions.is_latest_version,
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
        row_number() over (
            partition by
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

final as (

    select * exclude (row_rank_in_file)
    from joined
    where row_rank_in_file = 1

)

select * from final
