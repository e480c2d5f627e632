{#- The period calendar (intermediate/int_periods.sql computes it; the intermediate models read that one). -#}
select
    period_code,
    period_kind,
    year,
    quarter,
    start_date,
    end_date,
    unit_due_date,
    province_due_date,
    label_vi,
    label_en,
    year_period_code,
    sort_order

from {{ ref('int_periods') }}
