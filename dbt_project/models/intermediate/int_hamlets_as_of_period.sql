{#- The as-of view: the hamlets that existed at the end of each period (one row per period x hamlet). -#}
with

periods as (

    select * from {{ ref('int_periods') }}

),

hamlets as (

    select * from {{ ref('stg_raw__hamlets') }}

),

final as (

    select
        periods.period_code,
        hamlets.commune_code,
        hamlets.hamlet_code,
        hamlets.hamlet_key

    from periods
    inner join hamlets
        on periods.end_date >= hamlets.valid_from
        and (hamlets.valid_to is null or periods.end_date <= hamlets.valid_to)

)

select * from final
