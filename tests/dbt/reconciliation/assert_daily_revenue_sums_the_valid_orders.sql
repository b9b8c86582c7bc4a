{#- fct_daily_revenue is fct_orders' valid orders summed by day and channel, nothing more or less. -#}
{#- Dagster shows this reconciliation as an asset check of fct_daily_revenue (dagster-dbt's meta.dagster.ref). -#}
{{ config(meta={'dagster': {'ref': {'name': 'fct_daily_revenue'}}}) }}
with

daily as (

    select
        order_date,
        channel,
        valid_orders,
        net_revenue_usd,
        discount_usd
    from {{ ref('fct_daily_revenue') }}

),

orders as (

    select
        order_date,
        channel,
        count(*) as valid_orders,
        sum(net_revenue_usd) as net_revenue_usd,
        sum(discount_usd) as discount_usd
    from {{ ref('fct_orders') }}
    where is_valid_order
    group by 1, 2

)

select
    coalesce(daily.order_date, orders.order_date) as order_date,
    coalesce(daily.channel, orders.channel) as channel,
    daily.valid_orders as daily_valid_orders,
    orders.valid_orders as order_valid_orders,
    daily.net_revenue_usd as daily_net_revenue_usd,
    orders.net_revenue_usd as order_net_revenue_usd
from daily
full outer join orders
    on
        daily.order_date = orders.order_date
        and daily.channel = orders.channel
where
    daily.valid_orders is distinct from orders.valid_orders
    or daily.net_revenue_usd is distinct from orders.net_revenue_usd
    or daily.discount_usd is distinct from orders.discount_usd
