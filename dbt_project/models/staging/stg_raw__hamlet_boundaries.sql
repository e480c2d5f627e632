with

source as (

    select * from {{ source('raw', 'hamlet_boundaries') }}

),

renamed as (

    select
        cast(hamlet_code as varchar) as hamlet_code,
        -- the feature's own validity; null = as the hamlet version(s) it overlaps
        cast(valid_from as date) as boundary_valid_from,
        cast(valid_to as date) as boundary_valid_to,
        cast(geometry_geojson as varchar) as geometry_geojson,
        cast(geometry_type as varchar) as geometry_type,
        cast(centroid_lon as double) as centroid_lon,
        cast(centroid_lat as double) as centroid_lat,
        cast(area_km2 as double) as area_km2,
        cast(source_crs as varchar) as source_crs,
        cast(is_synthetic as boolean) as is_synthetic,
        cast(feature_index as integer) as feature_index,
        cast(_source_file as varchar) as source_file

    from source

)

select * from renamed
