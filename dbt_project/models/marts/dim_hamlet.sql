with

hamlets as (

    select * from {{ ref('stg_raw__hamlets') }}

),

crosswalk as (

    select * from {{ ref('stg_raw__hamlet_crosswalk') }}

),

successors as (

    select
        predecessor_code as hamlet_code,
        string_agg(successor_code, ';' order by successor_code) as successor_codes,
        min(effective_date) as change_effective_date,
        string_agg(distinct change_type, ';') as change_types

    from crosswalk
    where predecessor_code <> successor_code
    group by predecessor_code

),

predecessors as (

    select
        successor_code as hamlet_code,
        string_agg(predecessor_code, ';' order by predecessor_code) as predecessor_codes

    from crosswalk
    where predecessor_code <> successor_code
    group by successor_code

),

versioned as (

    select
        hamlets.*,
        row_number() over (
            partition by hamlets.hamlet_code
            order by hamlets.valid_from
        ) as version_no

    from hamlets

),

final as (

    select
        cast(versioned.hamlet_key as integer) as hamlet_key,
        cast(versioned.hamlet_code as varchar) as hamlet_code,
        cast(versioned.version_no as integer) as version_no,
        cast(versioned.commune_code as varchar) as commune_code,
        cast(versioned.hamlet_name as varchar) as hamlet_name,
        cast(versioned.hamlet_type as varchar) as hamlet_type,
        cast(versioned.valid_from as date) as valid_from,
        cast(versioned.valid_to as date) as valid_to,
        cast(versioned.valid_to is null as boolean) as is_current,
        cast(
            versioned.valid_to is null
            and successors.hamlet_code is null
            as boolean
        ) as is_current_hamlet,
        cast(successors.successor_codes as varchar) as successor_codes,
        cast(successors.change_types as varchar) as change_types,
        cast(successors.change_effective_date as date) as change_effective_date,
        cast(predecessors.predecessor_codes as varchar) as predecessor_codes

    from versioned
    left join successors
        on versioned.hamlet_code = successors.hamlet_code
    left join predecessors
        on versioned.hamlet_code = predecessors.hamlet_code

)

select * from final
