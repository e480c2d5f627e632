-- When a boundary file was loaded (raw.hamlet_boundaries not empty), every hamlet version of dim_hamlet should
-- have a boundary; a missing one is drawn as missing on the map. Warn only: never blocks publishing.
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'dim_hamlet_boundary'}}}) }}

with

hamlets as (

    select * from {{ ref('dim_hamlet') }}

),

boundaries as (

    select * from {{ ref('dim_hamlet_boundary') }}

),

loaded as (

    select count(*) as n from {{ ref('stg_raw__hamlet_boundaries') }}

),

final as (

    select
        hamlets.hamlet_key,
        hamlets.hamlet_code,
        hamlets.valid_from,
        hamlets.valid_to

    from hamlets
    cross join loaded
    anti join boundaries
        on hamlets.hamlet_key = boundaries.hamlet_key
    where loaded.n > 0

)

select * from final
