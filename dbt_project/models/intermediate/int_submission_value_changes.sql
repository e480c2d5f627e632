{#-
    What each resubmission did to the values in force, one row per (unit, period, version >= 2, hamlet,
    indicator) that the version carries or that was in force before it. Roll-up rule 7.3 (raw/README.md):
        added              the version carries a key that was not in force before
        changed            the version carries the key with another value, numerator or denominator
        unchanged          the version carries the key with the same value, numerator and denominator
        kept_from_earlier  the version leaves the key out and the earlier value stays in force (default:
                           the catalog's omitted_on_resubmission = keep_earlier and no "replace all")
        removed            the version leaves the key out and the earlier value no longer counts (the
                           version says "Thay thế toàn bộ" = replace all, or the indicator's rule is drop)
    "In force before version N" = for each key, the row of the latest version < N that carries it, from
    versions not older than the last replace-all version before N, and (if older than N - 1) only for
    keep_earlier indicators: the same rule as int_submission_values_versioned.is_in_force.
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
        current_version.submission_id,
        current_version.previous_submission_id,
        current_version.unit_code,
        current_version.period_code,
        current_version.version_no,
        current_version.submitted_at,
        current_version.replace_all,
        previous_version.replace_from_version_no as previous_replace_from_version_no

    from submissions as current_version
    inner join submissions as previous_version
        on current_version.previous_submission_id = previous_version.submission_id
    where current_version.version_no > 1

),

current_values as (

    select
        later_versions.submission_id,
        values_versioned.hamlet_code,
        values_versioned.indicator_code,
        values_versioned.value,
        values_versioned.numerator,
        values_versioned.denominator

    from later_versions
    inner join values_versioned
        on later_versions.submission_id = values_versioned.submission_id

),

earlier_rows as (

    select
        later_versions.submission_id,
        values_versioned.submission_id as value_submission_id,
        values_versioned.version_no,
        values_versioned.hamlet_code,
        values_versioned.indicator_code,
        values_versioned.value,
        values_versioned.numerator,
        values_versioned.denominator,
        values_versioned.omitted_on_resubmission,
        row_number() over (
            partition by
                later_versions.submission_id,
                values_versioned.hamlet_code,
                values_versioned.indicator_code
            order by values_versioned.version_no desc
        ) as key_version_rank,
        later_versions.version_no - 1 as previous_version_no

    from later_versions
    inner join values_versioned
        on later_versions.unit_code = values_versioned.unit_code
        and later_versions.period_code = values_versioned.period_code
        and values_versioned.version_no between later_versions.previous_replace_from_version_no
        and later_versions.version_no - 1

),

previous_values as (

    select * exclude (key_version_rank, previous_version_no)
    from earlier_rows
    where
        key_version_rank = 1
        and (version_no = previous_version_no or omitted_on_resubmission = 'keep_earlier')

),

compared as (

    select
        coalesce(current_values.submission_id, previous_values.submission_id) as submission_id,
        coalesce(current_values.hamlet_code, previous_values.hamlet_code) as hamlet_code,
        coalesce(current_values.indicator_code, previous_values.indicator_code) as indicator_code,
        previous_values.value_submission_id as previous_value_submission_id,
        previous_values.value as previous_value,
        current_values.value,
        previous_values.numerator as previous_numerator,
        current_values.numerator,
        previous_values.denominator as previous_denominator,
        current_values.denominator,
        previous_values.omitted_on_resubmission,
        previous_values.indicator_code is null as is_new_key,
        current_values.indicator_code is null as is_omitted,
        -- each test in parentheses: sqlfluff's duckdb parser cannot read a bare `is not distinct from` in a `when`
        (current_values.value is not distinct from previous_values.value)
        and (current_values.numerator is not distinct from previous_values.numerator)
        and (current_values.denominator is not distinct from previous_values.denominator) as is_same

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
        later_versions.previous_submission_id,
        later_versions.replace_all,
        compared.hamlet_code,
        compared.indicator_code,
        compared.previous_value_submission_id,
        compared.previous_value,
        compared.value,
        compared.previous_numerator,
        compared.numerator,
        compared.previous_denominator,
        compared.denominator,
        case
            when compared.is_new_key then 'added'
            when compared.is_omitted and (later_versions.replace_all or compared.omitted_on_resubmission = 'drop')
                then 'removed'
            when compared.is_omitted then 'kept_from_earlier'
            when compared.is_same then 'unchanged'
            else 'changed'
        end as change_type,
        case
            when not compared.is_omitted then compared.value
            when later_versions.replace_all or compared.omitted_on_resubmission = 'drop' then null
            else compared.previous_value
        end as value_in_force

    from compared
    inner join later_versions
        on compared.submission_id = later_versions.submission_id

)

select * from final
