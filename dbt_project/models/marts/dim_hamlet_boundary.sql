with

hamlets as (

    select * from {{ ref('dim_hamlet') }}

),

boundaries as (

    select * from {{ ref('stg_raw__hamlet_boundaries') }}

),

-- a boundary belongs to every version of its hamlet whose validity it overlaps (a boundary without dates
-- overlaps them all); the ingest quarantines a second boundary for the same version, so there is one at most
matched as (

    select
        hamlets.hamlet_key,
        hamlets.hamlet_code,
        hamlets.hamlet_name,
        hamlets.valid_from,
        hamlets.valid_to,
        boundaries.geometry_type,
        boundaries.geometry_geojson,
        boundaries.centroid_lon,
        boundaries.centroid_lat,
        boundaries.area_km2,
        boundaries.is_synthetic

    from hamlets
    inner join boundaries
        on hamlets.hamlet_code = boundaries.hamlet_code
        and coalesce(boundaries.boundary_valid_from, date '0001-01-01')
        <= coalesce(hamlets.valid_to, date '9999-12-31')
        and coalesce(boundaries.boundary_valid_to, date '9999-12-31') >= hamlets.valid_from

),

final as (

    select
        cast(hamlet_key as integer) as hamlet_key,
        cast(hamlet_code as varchar) as hamlet_code,
        cast(hamlet_name as varchar) as hamlet_name,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        cast(geometry_type as varchar) as geometry_type,
        cast(geometry_geojson as varchar) as geometry_geojson,
        cast(centroid_lon as double) as centroid_lon,
        cast(centroid_lat as double) as centroid_lat,
        cast(area_km2 as double) as area_km2,
        cast(is_synthetic as boolean) as is_synthetic

    from matched

)

select * from final
