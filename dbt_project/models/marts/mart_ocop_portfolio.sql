{#-
    OCOP portfolio per commune x product group x stars x quarter: the certificates active at the quarter end
    (issued on or before it, expiring on or after it, not revoked) for the quarters from 2025-Q1 up to the
    reporting period, with the certificates among them expiring within 6 months of the quarter end.
    Revoked certificates carry no revocation date and are left out of every quarter.
-#}
with

certificates as (

    select * from {{ ref('fact_ocop_certificate') }}

),

periods as (

    select * from {{ ref('dim_period') }}

),

reporting_period as (

    select * from {{ ref('int_reporting_period_selected') }}

),

ocop_groups as (

    select
        groups.group_code,
        groups.group_name_vi,
        groups.group_name_en

    from (
        values
        (1, 'Thực phẩm', 'Food'),
        (2, 'Đồ uống', 'Beverages'),
        (3, 'Thảo dược', 'Medicinal herbs and products'),
        (4, 'Thủ công mỹ nghệ', 'Handicrafts'),
        (5, 'Sinh vật cảnh', 'Ornamental plants and animals'),
        (
            6,
            'Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch',
            'Community and eco-tourism services and destinations'
        )
    ) as groups (group_code, group_name_vi, group_name_en)

),

quarters as (

    select periods.*
    from periods
    cross join reporting_period
    where periods.period_kind = 'quarter'
        and periods.end_date <= reporting_period.end_date

),

active as (

    select
        quarters.period_code,
        quarters.end_date,
        certificates.*,
        certificates.expires_on <= quarters.end_date + interval 6 month as is_expiring_within_6_months

    from certificates
    inner join quarters
        on certificates.issued_on <= quarters.end_date
        and certificates.expires_on >= quarters.end_date
    where certificates.recorded_status <> 'revoked'
        and certificates.certificate_no is not null

),

aggregated as (

    select
        commune_code,
        group_code,
        stars,
        period_code,
        count(distinct product_id) as products_count,
        count(*) as active_certificates,
        count(*) filter (where is_expiring_within_6_months) as expiring_within_6_months,
        string_agg(certificate_no, ';' order by certificate_no) filter (
            where is_expiring_within_6_months
        ) as expiring_certificate_nos

    from active
    group by
        commune_code,
        group_code,
        stars,
        period_code

),

final as (

    select
        cast({{ ntm_surrogate_key([
            'aggregated.commune_code', 'aggregated.group_code', 'aggregated.stars', 'aggregated.period_code'
        ]) }} as varchar) as portfolio_key,
        cast(aggregated.commune_code as varchar) as commune_code,
        cast(aggregated.period_code as varchar) as period_code,
        cast(aggregated.group_code as integer) as group_code,
        cast(ocop_groups.group_name_vi as varchar) as group_name_vi,
        cast(ocop_groups.group_name_en as varchar) as group_name_en,
        cast(aggregated.stars as integer) as stars,
        cast(aggregated.products_count as integer) as products_count,
        cast(aggregated.active_certificates as integer) as active_certificates,
        cast(aggregated.expiring_within_6_months as integer) as expiring_within_6_months,
        cast(aggregated.expiring_certificate_nos as varchar) as expiring_certificate_nos

    from aggregated
    left join ocop_groups
        on aggregated.group_code = ocop_groups.group_code

)

select * from final
