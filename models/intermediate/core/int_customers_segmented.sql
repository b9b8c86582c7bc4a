{#- Every customer's segment: see the doc block customer_segment. -#}
with

customers as (

    select customer_id
    from {{ ref('stg_shop__customers') }}

),

order_history as (

    select
        customer_id,
        first_order_at,
        last_order_at,
        lifetime_valid_orders,
        lifetime_net_revenue_usd
    from {{ ref('int_customers_aggregated_from_orders') }}

),

final as (

    select
        customers.customer_id,
        order_history.first_order_at,
        order_history.last_order_at,
        coalesce(order_history.lifetime_valid_orders, 0) as lifetime_valid_orders,
        coalesce(order_history.lifetime_net_revenue_usd, 0) as lifetime_net_revenue_usd,
        case
            -- No valid order yet (none at all, or only cancelled, future or unconvertible ones).
            when coalesce(order_history.lifetime_valid_orders, 0) = 0 then 'prospect'
            when
                order_history.last_order_at
                < {{ dbt.dateadd('day', -var('lapsed_after_days'), run_timestamp()) }} then 'lapsed'
            when order_history.lifetime_net_revenue_usd >= {{ var('vip_lifetime_net_revenue_usd') }} then 'vip'
            when order_history.lifetime_valid_orders >= {{ var('loyal_min_valid_orders') }} then 'loyal'
            else 'active'
        end as customer_segment
    from customers
    left join order_history
        on customers.customer_id = order_history.customer_id

)

select * from final
