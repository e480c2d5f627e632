{#-
    Grain: OCOP product x certificate (a product without certificate has one row with certificate_no null).
    The same product x certificate seen in several files keeps the row of the last file (path order) and row.
    status_at_period_end is evaluated at the end of the reporting period (int_reporting_period_selected):
    revoked (raw status), uncertified (no issue date), not_yet_issued, expired (expires_on before the
    period end) or active. producer_name is left out (household businesses carry personal names).
-#}
with

products as (

    select * from {{ ref('stg_raw__ocop_products') }}

),

reporting_period as (

    select * from {{ ref('int_reporting_period_selected') }}

),

deduplicated as (

    select
        *,
        row_number() over (
            partition by product_id, certificate_no
            order by source_file desc, source_row desc
        ) as row_rank

    from products

),

final as (

    select
        cast({{ ntm_surrogate_key(['deduplicated.product_id', 'deduplicated.certificate_no']) }} as varchar)
            as certificate_key,
        cast(deduplicated.product_id as varchar) as product_id,
        cast(deduplicated.certificate_no as varchar) as certificate_no,
        cast(deduplicated.product_name as varchar) as product_name,
        cast(deduplicated.group_code as integer) as group_code,
        cast(deduplicated.subgroup as varchar) as subgroup,
        cast(deduplicated.producer_type as varchar) as producer_type,
        cast(deduplicated.commune_code as varchar) as commune_code,
        cast(deduplicated.hamlet_code as varchar) as hamlet_code,
        cast(deduplicated.score as double) as score,
        cast(deduplicated.stars as integer) as stars,
        cast(deduplicated.rating_level as varchar) as rating_level,
        cast(deduplicated.issued_on as date) as issued_on,
        cast(deduplicated.expires_on as date) as expires_on,
        cast(deduplicated.material_area_code as varchar) as material_area_code,
        cast(deduplicated.traceability_url as varchar) as traceability_url,
        cast(deduplicated.status as varchar) as recorded_status,
        cast(reporting_period.period_code as varchar) as status_period_code,
        cast(reporting_period.end_date as date) as status_date,
        cast(
            case
                when deduplicated.status = 'revoked' then 'revoked'
                when deduplicated.issued_on is null then 'uncertified'
                when deduplicated.issued_on > reporting_period.end_date then 'not_yet_issued'
                when deduplicated.expires_on < reporting_period.end_date then 'expired'
                else 'active'
            end
            as varchar
        ) as status_at_period_end

    from deduplicated
    left join reporting_period
        on true
    where deduplicated.row_rank = 1

)

select * from final
