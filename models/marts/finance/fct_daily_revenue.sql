{#- One row per order_date and channel that had valid orders: revenue as finance reports it. -#}
with

orders as (

    select
        order_date,
        channel,
        net_revenue_usd,
        discount_usd
    from {{ ref('fct_orders') }}
    where is_valid_order

),

daily as (

    select
        order_date,
        channel,
        count(*) as valid_orders,
        sum(net_revenue_usd) as net_revenue_usd,
        sum(discount_usd) as discount_usd
    from orders
    group by 1, 2

),

final as (

    select
        cast({{ surrogate_key(['order_date', 'channel']) }} as varchar) as daily_revenue_id,
        cast(order_date as date) as order_date,
        cast(channel as varchar) as channel,
        cast(valid_orders as bigint) as valid_orders,
        cast(net_revenue_usd as decimal(18, 2)) as net_revenue_usd,
        cast(discount_usd as decimal(18, 2)) as discount_usd,
        cast(round({{ safe_divide('net_revenue_usd', 'valid_orders') }}, 2) as decimal(18, 2))
            as average_order_value_usd
    from daily

)

select * from final
