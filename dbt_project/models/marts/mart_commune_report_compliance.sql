{#-
    The province's compliance of commune reports (raw/README.md 11, "Deadline to the province"): one row per
    commune of the home province x period, only at level province (raw.federation_settings.level =
    'province'; at level commune the mart is empty).
    Expected: every commune of dim_commune in the home province (raw.federation_settings.home_province_code)
    for every period from the earliest to the latest period of the same kind (quarter, year) carried by any
    accepted package (sender.periods.codes).
    Due: dim_period.province_due_date 23:59:59 Asia/Ho_Chi_Minh (sent_at is stored in that local time).
    On time when the accepted package with the period that was sent first (earliest sent_at) was sent by the
    due time; a correction sent after it does not make the period late; days late = calendar days from the
    due date to the date of that sent_at (0 on time); no accepted package with the period: missing.
    versions_count = distinct packages received with the period (accepted, superseded or unchanged copies
    counted once by their datapackage.json sha256; rejected ones not counted).
-#}
with

settings as (

    select * from {{ source('raw', 'federation_settings') }}
    where level = 'province'

),

packages as (

    select * from {{ source('raw', 'commune_packages') }}

),

communes as (

    select * from {{ ref('dim_commune') }}

),

periods as (

    select * from {{ ref('dim_period') }}

),

package_periods as (

    select
        packages.commune_code,
        packages.package_sha256,
        packages.status,
        packages.sent_at_local,
        unnest(packages.periods) as period_code

    from packages
    where packages.status in ('accepted', 'superseded', 'unchanged')

),

data_bounds as (

    select
        periods.period_kind,
        min(periods.start_date) as first_start_date,
        max(periods.end_date) as last_end_date

    from package_periods
    inner join periods
        on package_periods.period_code = periods.period_code
    where package_periods.status = 'accepted'
    group by periods.period_kind

),

expected as (

    select
        communes.commune_code,
        communes.commune_name,
        communes.province_code,
        periods.period_code,
        periods.period_kind,
        periods.province_due_date,
        periods.province_due_date + interval '23 hours 59 minutes 59 seconds' as due_at

    from communes
    inner join settings
        on communes.province_code = settings.home_province_code
    inner join data_bounds
        on true
    inner join periods
        on data_bounds.period_kind = periods.period_kind
        and data_bounds.first_start_date <= periods.start_date
        and data_bounds.last_end_date >= periods.end_date

),

received as (

    select
        commune_code,
        period_code,
        count(distinct package_sha256) as versions_count,
        min(sent_at_local) filter (where status = 'accepted') as first_sent_at,
        max(sent_at_local) filter (where status = 'accepted') as last_sent_at

    from package_periods
    group by
        commune_code,
        period_code

),

per_commune as (

    select
        expected.*,
        received.first_sent_at is not null as is_received,
        received.first_sent_at is not null and received.first_sent_at <= expected.due_at as is_on_time,
        received.first_sent_at is not null and received.first_sent_at > expected.due_at as is_late,
        received.first_sent_at is null as is_missing,
        case
            when received.first_sent_at is null then null
            when received.first_sent_at <= expected.due_at then 0
            else date_diff('day', expected.province_due_date, cast(received.first_sent_at as date))
        end as days_late,
        coalesce(received.versions_count, 0) as versions_count,
        received.first_sent_at,
        received.last_sent_at

    from expected
    left join received
        on expected.commune_code = received.commune_code
        and expected.period_code = received.period_code

),

final as (

    select
        cast({{ ntm_surrogate_key(['commune_code', 'period_code']) }} as varchar) as commune_report_key,
        cast(commune_code as varchar) as commune_code,
        cast(commune_name as varchar) as commune_name,
        cast(province_code as varchar) as province_code,
        cast(period_code as varchar) as period_code,
        cast(period_kind as varchar) as period_kind,
        cast(province_due_date as date) as due_date,
        cast(due_at as timestamp) as due_at,
        cast(true as boolean) as is_expected,
        cast(is_received as boolean) as is_received,
        cast(is_on_time as boolean) as is_on_time,
        cast(is_late as boolean) as is_late,
        cast(is_missing as boolean) as is_missing,
        cast(days_late as integer) as days_late,
        cast(versions_count as integer) as versions_count,
        cast(first_sent_at as timestamp) as first_sent_at,
        cast(last_sent_at as timestamp) as last_sent_at

    from per_commune

)

select * from final
