{#-
    The commune x period x indicator rows a province rolls up and publishes (raw/README.md 11, "How the
    province rolls up"): the rows rolled up here from hamlets (commune_indicator_rolled_up) of every
    commune WITHOUT a report package in use, plus the mart_commune_indicator rows of each commune's report
    package in use (raw.commune_pkg_mart_commune_indicator, loaded by pipeline.exchange.federation at
    NTM_LEVEL=province). A package replaces its commune whole: none of the commune's local rows is kept
    beside it. At level commune no package is loaded, so this is commune_indicator_rolled_up unchanged.
    Package values are the sender's mart values (already rounded to 9 decimals); direction comes from
    this instance's catalog; hamlets_ceased_excluded is not in the package (null).
-#}
with

local_values as (

    select * from {{ ref('commune_indicator_rolled_up') }}

),

package_values as (

    select * from {{ source('raw', 'commune_pkg_mart_commune_indicator') }}

),

packages_in_use as (

    select distinct commune_code
    from {{ source('raw', 'commune_packages') }}
    where in_use

),

indicators as (

    select * from {{ ref('indicators') }}

),

local_kept as (

    select local_values.*
    from local_values
    anti join packages_in_use
        on local_values.commune_code = packages_in_use.commune_code

),

from_packages as (

    select
        cast(package_values.commune_code as varchar) as commune_code,
        cast(package_values.period_code as varchar) as period_code,
        cast(package_values.indicator_code as varchar) as indicator_code,
        cast(package_values.aggregation as varchar) as aggregation,
        cast(package_values.value_origin as varchar) as value_origin,
        cast(package_values.value as double) as value,
        cast(package_values.numerator as double) as numerator,
        cast(package_values.denominator as double) as denominator,
        cast(package_values.hamlets_reporting as bigint) as hamlets_reporting,
        cast(null as bigint) as hamlets_ceased_excluded,
        cast(package_values.hamlets_meeting as bigint) as hamlets_meeting,
        cast(package_values.hamlets_existing as bigint) as hamlets_existing,
        cast(package_values.threshold as double) as threshold_applied,
        cast(indicators.direction as varchar) as direction,
        cast(package_values.value_source as varchar) as value_source,
        cast(package_values.last_submitted_at as timestamp) as last_submitted_at,
        cast(package_values.met_threshold as boolean) as met_threshold

    from package_values
    inner join packages_in_use
        on package_values._package_commune_code = packages_in_use.commune_code
    left join indicators
        on package_values.indicator_code = indicators.indicator_code

),

final as (

    select * from local_kept
    union all by name
    select * from from_packages

)

select
    commune_code,
    period_code,
    indicator_code,
    aggregation,
    value_origin,
    value,
    numerator,
    denominator,
    hamlets_reporting,
    hamlets_ceased_excluded,
    hamlets_meeting,
    hamlets_existing,
    threshold_applied,
    direction,
    value_source,
    last_submitted_at,
    met_threshold

from final
