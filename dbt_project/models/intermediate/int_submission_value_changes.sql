{#-
    What changed between consecutive versions of a unit's report for a period: one row per
    (unit, period, version >= 2, hamlet, indicator) that was added, changed, removed or kept unchanged.
-#}
with

values_versioned as (

    select * from {{ ref('int_submission_values_versioned') }}

),

submissions as (

    select * from {{ ref('int_submissions_ranked') }}

),

later_versions as (

    select
        submission_id,
        previous_submission_id,
        unit_code,
        period_code,
        version_no,
        submitted_at

    from submissions
    where version_no > 1

),

current_values as (

    select
        later_versions.submission_id,
        later_versions.previous_submission_id,
        values_versioned.hamlet_code,
        values_versioned.indicator_code,
        values_versioned.value,
        values_versioned.numerator,
        values_versioned.denominator

    from later_versions
    inner join values_versioned
        on later_versions.submission_id = values_versioned.submission_id

),

previous_values as (

    select
        later_versions.submission_id,
        later_versions.previous_submission_id,
        values_versioned.hamlet_code,
        values_versioned.indicator_code,
        values_versioned.value,
        values_versioned.numerator,
        values_versioned.denominator

    from later_versions
    inner join values_versioned
        on later_versions.previous_submission_id = values_versioned.submission_id

),

compared as (

    select
        coalesce(current_values.submission_id, previous_values.submission_id) as submission_id,
        coalesce(
            current_values.previous_submission_id, previous_values.previous_submission_id
        ) as previous_submission_id,
        coalesce(current_values.hamlet_code, previous_values.hamlet_code) as hamlet_code,
        coalesce(current_values.indicator_code, previous_values.indicator_code) as indicator_code,
        previous_values.value as previous_value,
        current_values.value,
        previous_values.numerator as previous_numerator,
        current_values.numerator,
        previous_values.denominator as previous_denominator,
        current_values.denominator,
        case
            when previous_values.indicator_code is null then 'added'
            when current_values.indicator_code is null then 'removed'
            -- each test in parentheses: sqlfluff's duckdb parser cannot read a bare `is not distinct from` in a `when`
            when (current_values.value is not distinct from previous_values.value)
                and (current_values.numerator is not distinct from previous_values.numerator)
                and (current_values.denominator is not distinct from previous_values.denominator)
                then 'unchanged'
            else 'changed'
        end as change_type

    from current_values
    full outer join previous_values
        on current_values.submission_id = previous_values.submission_id
        and current_values.hamlet_code is not distinct from previous_values.hamlet_code
        and current_values.indicator_code = previous_values.indicator_code

),

final as (

    select
        later_versions.unit_code,
        later_versions.period_code,
        later_versions.version_no,
        later_versions.submitted_at,
        compared.submission_id,
        compared.previous_submission_id,
        compared.hamlet_code,
        compared.indicator_code,
        compared.previous_value,
        compared.value,
        compared.previous_numerator,
        compared.numerator,
        compared.previous_denominator,
        compared.denominator,
        compared.change_type

    from compared
    inner join later_versions
        on compared.submission_id = later_versions.submission_id

)

select * from final
