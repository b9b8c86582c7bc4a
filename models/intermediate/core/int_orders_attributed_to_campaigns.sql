{#- Each order's campaign, by the attribution rule (doc block attribution). -#}
with

orders as (

    select
        order_id,
        utm_campaign_normalized
    from {{ ref('stg_shop__orders') }}

),

campaign_per_utm as (

    select
        utm_campaign_normalized,
        campaign_id
    from {{ ref('int_campaigns_keyed_by_utm') }}

),

final as (

    select
        orders.order_id,
        campaign_per_utm.campaign_id
    from orders
    left join campaign_per_utm
        on orders.utm_campaign_normalized = campaign_per_utm.utm_campaign_normalized

)

select * from final
