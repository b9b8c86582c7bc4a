{#- Which products brought the most net revenue over the last 30 days, and are they in stock? -#}
with

order_items as (

    select
        product_id,
        quantity,
        line_net_amount_usd,
        order_date,
        is_valid_order,
        is_orphan_product
    from {{ ref('fct_order_items') }}

),

products as (

    select
        product_id,
        product_name,
        top_category_name,
        quantity_available,
        is_in_stock
    from {{ ref('dim_products') }}

),

recent as (

    select
        product_id,
        sum(quantity) as units_sold,
        sum(line_net_amount_usd) as net_revenue_usd
    from order_items
    where
        is_valid_order
        and not is_orphan_product
        and order_date >= {{ dbt.dateadd('day', -30, 'current_date') }}
    group by 1

)

select
    products.product_name,
    products.top_category_name,
    recent.units_sold,
    recent.net_revenue_usd,
    products.quantity_available,
    products.is_in_stock
from recent
inner join products
    on recent.product_id = products.product_id
order by 4 desc
limit 20
