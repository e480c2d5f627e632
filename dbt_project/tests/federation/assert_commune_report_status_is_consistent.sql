{#- Each expected commune x period is exactly one of on time / late / missing, received = not missing, and
    days_late agrees: 0 on time, >= 1 late, empty missing; versions_count >= 1 when received. -#}
select *
from {{ ref('mart_commune_report_compliance') }}
where
    (cast(is_on_time as int) + cast(is_late as int) + cast(is_missing as int)) <> 1
    or is_received = is_missing
    or (is_on_time and days_late <> 0)
    or (is_late and not days_late >= 1)
    or (is_missing and days_late is not null)
    or (is_received and versions_count < 1)
    or (is_received and first_sent_at > last_sent_at)
