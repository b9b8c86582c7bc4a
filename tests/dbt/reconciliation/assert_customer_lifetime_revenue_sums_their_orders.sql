{#- Each customer's lifetime figures equal their valid orders in fct_orders. -#}
{#- Dagster shows this reconciliation as an asset check of dim_customers (dagster-dbt's meta.dagster.ref). -#}
{{ config(meta={'dagster': {'ref': {'name': 'dim_customers'}}}) }}
with

customers as (

    select
        customer_id,
        lifetime_valid_orders,
        lifetime_net_revenue_usd
    from {{ ref('dim_customers') }}

),

orders as (

    select
        customer_id,
        count(*) as valid_orders,
        sum(net_revenue_usd) as net_revenue_usd
    from {{ ref('fct_orders') }}
    where is_valid_order and customer_id is not null
    group by 1

)

select
    customers.customer_id,
    customers.lifetime_valid_orders,
    orders.valid_orders,
    customers.lifetime_net_revenue_usd,
    orders.net_revenue_usd
from customers
left join orders
    on customers.customer_id = orders.customer_id
where
    customers.lifetime_valid_orders != coalesce(orders.valid_orders, 0)
    or customers.lifetime_net_revenue_usd != coalesce(orders.net_revenue_usd, 0)
