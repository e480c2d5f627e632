{#-
    Reporting compliance per reporting unit x period.
    Expected: every unit whose validity overlaps the period and that still existed on the due date (a
    hamlet merged away in June owes no annual report), whose type reports that kind of period
    (reporting_unit_types.reports_quarterly / reports_annual), and that has something to report in it:
    an indicator of its unit type valid in the period, or a plan task it leads or coordinates whose
    timeframe covers the period's year. Periods run from the earliest to the latest period of the same
    kind (quarter, year) that has any submission.
    A report is on time when its first version arrived by the due date (through the 15th of the quarter's last month (15 Mar, 15 Jun, 15 Sep, 15 Dec; annual report: 15 Dec), 23:59:59 Asia/Ho_Chi_Minh); a later
    correction does not make it late. Missing = expected and not received.
    The period_* columns repeat, on each row of the period, the period's totals and the lists of late and
    missing unit codes.
-#}
with

units as (

    select * from {{ ref('dim_reporting_unit') }}

),

periods as (

    select * from {{ ref('dim_period') }}

),

submissions as (

    select * from {{ ref('fact_submission') }}

),

indicators as (

    select * from {{ ref('dim_indicator') }}

),

tasks as (

    select * from {{ ref('dim_plan_task') }}

),

data_bounds as (

    select
        periods.period_kind,
        min(periods.start_date) as first_start_date,
        max(periods.end_date) as last_end_date

    from submissions
    inner join periods
        on submissions.period_code = periods.period_code
    group by periods.period_kind

),

periods_in_scope as (

    select periods.*
    from periods
    inner join data_bounds
        on periods.period_kind = data_bounds.period_kind
        and periods.start_date >= data_bounds.first_start_date
        and periods.end_date <= data_bounds.last_end_date

),

expected as (

    select distinct
        units.unit_code,
        units.commune_code,
        units.unit_type,
        periods_in_scope.period_code,
        periods_in_scope.period_kind,
        periods_in_scope.unit_due_date

    from units
    inner join periods_in_scope
        on units.valid_from <= periods_in_scope.end_date
        and (units.valid_to is null or units.valid_to >= periods_in_scope.unit_due_date)
        and (
            (periods_in_scope.period_kind = 'quarter' and units.reports_quarterly)
            or (periods_in_scope.period_kind = 'year' and units.reports_annual)
        )
    where
        exists (
            select 1
            from indicators
            where
                indicators.reporter_unit_type = units.unit_type
                and indicators.valid_from <= periods_in_scope.end_date
                and (indicators.valid_to is null or indicators.valid_to >= periods_in_scope.start_date)
        )
        or exists (
            select 1
            from tasks
            where
                (
                    tasks.lead_unit_abbr = units.abbr
                    or list_contains(string_split(tasks.coordinating_unit_abbrs, ';'), units.abbr)
                )
                and periods_in_scope.year between tasks.timeframe_start and tasks.timeframe_end
        )

),

received as (

    select
        unit_code,
        period_code,
        count(*) as versions_count,
        min(submitted_at) as first_submitted_at,
        max(submitted_at) as last_submitted_at,
        first(is_on_time order by version_no) as first_is_on_time,
        first(days_late order by version_no) as first_days_late

    from submissions
    group by
        unit_code,
        period_code

),

per_unit as (

    select
        expected.unit_code,
        expected.commune_code,
        expected.unit_type,
        expected.period_code,
        expected.period_kind,
        expected.unit_due_date,
        received.unit_code is not null as is_received,
        coalesce(received.first_is_on_time, false) as is_on_time,
        received.unit_code is not null and not received.first_is_on_time as is_late,
        received.unit_code is null as is_missing,
        received.first_days_late as days_late,
        coalesce(received.versions_count, 0) as versions_count,
        received.first_submitted_at,
        received.last_submitted_at

    from expected
    left join received
        on expected.unit_code = received.unit_code
        and expected.period_code = received.period_code

),

per_period as (

    select
        period_code,
        commune_code,
        count(*) as expected_count,
        count(*) filter (where is_received) as received_count,
        count(*) filter (where is_on_time) as on_time_count,
        count(*) filter (where is_late) as late_count,
        count(*) filter (where is_missing) as missing_count,
        string_agg(unit_code, ';' order by unit_code) filter (where is_late) as late_unit_codes,
        string_agg(unit_code, ';' order by unit_code) filter (where is_missing) as missing_unit_codes

    from per_unit
    group by
        period_code,
        commune_code

),

final as (

    select
        cast({{ ntm_surrogate_key(['per_unit.unit_code', 'per_unit.period_code']) }} as varchar) as compliance_key,
        cast(per_unit.unit_code as varchar) as unit_code,
        cast(per_unit.commune_code as varchar) as commune_code,
        cast(per_unit.unit_type as varchar) as unit_type,
        cast(per_unit.period_code as varchar) as period_code,
        cast(per_unit.period_kind as varchar) as period_kind,
        cast(per_unit.unit_due_date as date) as due_date,
        cast(true as boolean) as is_expected,
        cast(per_unit.is_received as boolean) as is_received,
        cast(per_unit.is_on_time as boolean) as is_on_time,
        cast(per_unit.is_late as boolean) as is_late,
        cast(per_unit.is_missing as boolean) as is_missing,
        cast(per_unit.days_late as integer) as days_late,
        cast(per_unit.versions_count as integer) as versions_count,
        cast(per_unit.first_submitted_at as timestamp) as first_submitted_at,
        cast(per_unit.last_submitted_at as timestamp) as last_submitted_at,
        cast(per_period.expected_count as integer) as period_expected_count,
        cast(per_period.received_count as integer) as period_received_count,
        cast(per_period.on_time_count as integer) as period_on_time_count,
        cast(per_period.late_count as integer) as period_late_count,
        cast(per_period.missing_count as integer) as period_missing_count,
        cast(per_period.late_unit_codes as varchar) as period_late_unit_codes,
        cast(per_period.missing_unit_codes as varchar) as period_missing_unit_codes

    from per_unit
    inner join per_period
        on per_unit.period_code = per_period.period_code
        and per_unit.commune_code = per_period.commune_code

)

select * from final
