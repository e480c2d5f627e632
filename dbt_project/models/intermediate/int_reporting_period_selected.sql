{#-
    The reporting period the warehouse describes (one row): the reporting_period var when given (an explicit
    "as of"), else the latest quarter with any submission, else the quarter holding the latest OCOP certificate issue date.
    Used for "status at period end" and as the last period of compliance and portfolio marts.
    A partitioned run's period_code var only scopes the incremental facts: it does not move "as of", so a
    partitioned run leaves these marts equal to a full rebuild.
-#}
with

periods as (

    select * from {{ ref('int_periods') }}

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
            {%- if var('reporting_period', none) %}
                when periods.period_code = '{{ var("reporting_period") }}' then 0
            {%- endif %}
            when periods.end_date = (select latest_submission_end.end_date from latest_submission_end) then 1
            when (select latest_issue.issued_on from latest_issue) between periods.start_date and periods.end_date
                then 2
            else 3
        end as preference

    from periods
    where periods.period_kind = 'quarter'
        {%- if var('reporting_period', none) %}
            or periods.period_code = '{{ var("reporting_period") }}'
        {%- endif %}

),

final as (

    select
        period_code,
        start_date,
        end_date

    from candidates
    where preference < 3
    order by preference asc, end_date desc
    limit 1

)

select * from final
