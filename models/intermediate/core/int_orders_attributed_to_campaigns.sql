{#- Each order's campaign, by the attribution rule (doc block attribution). -#}
with

orders as (

    select
        order_id,
        utm_campaign_normalized
    from {{ ref('stg_shop__orders') }}

),

campaigns as (

    select
        campaign_id,
        utm_campaign_normalized
    from {{ ref('stg_hubspot__campaigns') }}

),

-- utm values are unique per campaign (tested); should two ever share one, the lowest id wins
-- rather than the order counting twice.
campaign_per_utm as (

    select
        utm_campaign_normalized,
        min(campaign_id) as campaign_id
    from campaigns
    group by 1

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
