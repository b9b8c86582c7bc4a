{#- Net revenue and discount in US dollars: see the doc block net_revenue. -#}
with

orders as (

    select
        order_id,
        currency_code,
        subtotal,
        discount_amount
    from {{ ref('stg_shop__orders') }}

),

fx_rates as (

    select
        currency_code,
        usd_per_unit
    from {{ ref('fx_rates') }}

),

final as (

    select
        orders.order_id,
        fx_rates.usd_per_unit,
        orders.subtotal - orders.discount_amount as net_revenue,
        cast(round((orders.subtotal - orders.discount_amount) * fx_rates.usd_per_unit, 2) as decimal(18, 2))
            as net_revenue_usd,
        cast(round(orders.discount_amount * fx_rates.usd_per_unit, 2) as decimal(18, 2)) as discount_usd
    from orders
    inner join fx_rates
        on orders.currency_code = fx_rates.currency_code

)

select * from final
