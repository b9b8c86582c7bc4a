{#- Per customer: their valid orders' history and value. -#}
with

orders as (

    select
        order_id,
        customer_id,
        placed_at
    from {{ ref('stg_shop__orders') }}
    where customer_id is not null

),

classified as (

    select
        order_id,
        is_valid_order
    from {{ ref('int_orders_classified') }}

),

converted as (

    select
        order_id,
        net_revenue_usd
    from {{ ref('int_orders_converted_to_usd') }}

),

valid_orders as (

    select
        orders.customer_id,
        orders.placed_at,
        converted.net_revenue_usd
    from orders
    inner join classified
        on orders.order_id = classified.order_id
    inner join converted
        on orders.order_id = converted.order_id
    where classified.is_valid_order

),

final as (

    select
        customer_id,
        min(placed_at) as first_order_at,
        max(placed_at) as last_order_at,
        count(*) as lifetime_valid_orders,
        sum(net_revenue_usd) as lifetime_net_revenue_usd
    from valid_orders
    group by 1

)

select * from final
