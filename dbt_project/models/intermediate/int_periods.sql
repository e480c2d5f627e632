{#-
    Period calendar generated from the first/last year (macros/periods.sql), never typed by hand. The
    intermediate models read it here; marts.dim_period publishes it unchanged.
-#}
with

years as (

    select cast(generated.year_number as integer) as year
    from range({{ ntm_first_year() }}, {{ ntm_last_year() }} + 1) as generated (year_number)

),

quarter_numbers as (

    select cast(generated.quarter_number as integer) as quarter
    from range(1, 5) as generated (quarter_number)

),

quarters as (

    select
        years.year || '-Q' || quarter_numbers.quarter as period_code,
        'quarter' as period_kind,
        years.year,
        quarter_numbers.quarter,
        make_date(years.year, quarter_numbers.quarter * 3 - 2, 1) as start_date,
        last_day(make_date(years.year, quarter_numbers.quarter * 3, 1)) as end_date,
        make_date(years.year, quarter_numbers.quarter * 3, 15) as unit_due_date,
        make_date(years.year, quarter_numbers.quarter * 3, 25) as province_due_date,
        'Quý ' || quarter_numbers.quarter || '/' || years.year as label_vi,
        'Q' || quarter_numbers.quarter || ' ' || years.year as label_en,
        cast(years.year as varchar) as year_period_code,
        years.year * 10 + quarter_numbers.quarter as sort_order

    from years
    cross join quarter_numbers

),

annual as (

    select
        cast(year as varchar) as period_code,
        'year' as period_kind,
        year,
        cast(null as integer) as quarter,
        make_date(year, 1, 1) as start_date,
        make_date(year, 12, 31) as end_date,
        make_date(year, 12, 15) as unit_due_date,
        make_date(year, 12, 25) as province_due_date,
        'Năm ' || year as label_vi,
        'Year ' || year as label_en,
        cast(year as varchar) as year_period_code,
        year * 10 + 5 as sort_order

    from years

),

unioned as (

    select * from quarters
    union all
    select * from annual

),

final as (

    select
        cast(period_code as varchar) as period_code,
        cast(period_kind as varchar) as period_kind,
        cast(year as integer) as year,
        cast(quarter as integer) as quarter,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(unit_due_date as date) as unit_due_date,
        cast(province_due_date as date) as province_due_date,
        cast(label_vi as varchar) as label_vi,
        cast(label_en as varchar) as label_en,
        cast(year_period_code as varchar) as year_period_code,
        cast(sort_order as integer) as sort_order

    from unioned

)

select * from final
