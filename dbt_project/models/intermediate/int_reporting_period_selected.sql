{#-
    The reporting period the warehouse describes (one row): the period_code var of a partitioned run, else the
    latest quarter with any submission, else the quarter holding the latest OCOP certificate issue date.
    Used for "status at period end" and as the last period of compliance and portfolio marts.
-#}
with

periods as (

    select * from {{ ref('dim_period') }}

),

submissions as (

    select * from {{ ref('stg_raw__submissions') }}

),

ocop_products as (

    select * from {{ ref('stg_raw__ocop_products') }}

),

latest_submission_end as (

    select max(periods.end_date) as end_date
    from submissions
    inner join periods
        on submissions.period_code = periods.period_code
    where periods.period_kind = 'quarter'

),

latest_issue as (

    select max(issued_on) as issued_on
    from ocop_products

),

candidates as (

    select
        periods.period_code,
        periods.start_date,
        periods.end_date,
        case
            {%- if var('period_code', none) %}
            when periods.period_code = '{{ var("period_code") }}' then 0
            {%- endif %}
            when periods.end_date = (select latest_submission_end.end_date from latest_submission_end) then 1
            when (select latest_issue.issued_on from latest_issue) between periods.start_date and periods.end_date
                then 2
            else 3
        end as preference

    from periods
    where periods.period_kind = 'quarter'
        {%- if var('period_code', none) %}
        or periods.period_code = '{{ var("period_code") }}'
        {%- endif %}

),

final as (

    select
        period_code,
        start_date,
        end_date

    from candidates
    where preference < 3
    order by preference, end_date desc
    limit 1

)

select * from final
