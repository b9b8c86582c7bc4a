{#- fct_campaign_performance attributes exactly the valid orders fct_orders attributes. -#}
{#- Dagster shows this reconciliation as an asset check of fct_campaign_performance (dagster-dbt's meta.dagster.ref). -#}
{{ config(meta={'dagster': {'ref': {'name': 'fct_campaign_performance'}}}) }}
with

campaigns as (

    select
        sum(attributed_valid_orders) as valid_orders,
        sum(attributed_net_revenue_usd) as net_revenue_usd
    from {{ ref('fct_campaign_performance') }}

),

orders as (

    select
        count(*) as valid_orders,
        sum(net_revenue_usd) as net_revenue_usd
    from {{ ref('fct_orders') }}
    where is_valid_order and campaign_id is not null

)

select
    campaigns.valid_orders as campaign_valid_orders,
    orders.valid_orders as order_valid_orders,
    campaigns.net_revenue_usd as campaign_net_revenue_usd,
    orders.net_revenue_usd as order_net_revenue_usd
from campaigns
cross join orders
where
    campaigns.valid_orders != orders.valid_orders
    or campaigns.net_revenue_usd != orders.net_revenue_usd
