{#
    What did a product cost, and how much of it was in stock, on a given day?

        dbt compile -s product_price_and_stock_on_date --vars '{product_id: 42, on_date: "2026-11-20"}'

    Reads the SCD2 history marts: the version valid at the end of that day (UTC).
#}
{% set product_id = var('product_id', 1) %}
{% set on_date = var('on_date', '2026-01-01') %}

with

prices as (

    select
        product_id,
        list_price,
        cost_price,
        valid_from,
        valid_to,
        is_deleted
    from {{ ref('dim_product_price_history') }}

),

stock as (

    select
        product_id,
        warehouse_code,
        quantity_on_hand,
        valid_from,
        valid_to,
        is_deleted
    from {{ ref('dim_inventory_level_history') }}

),

moment as (

    select {{ dbt.dateadd('day', 1, "cast('" ~ on_date ~ "' as timestamp)") }} as as_of

),

price_then as (

    select
        prices.product_id,
        prices.list_price,
        prices.cost_price
    from prices
    cross join moment
    where
        prices.product_id = {{ product_id }}
        and not prices.is_deleted
        and prices.valid_from < moment.as_of
        and (prices.valid_to is null or prices.valid_to >= moment.as_of)

),

stock_then as (

    select
        stock.product_id,
        sum(stock.quantity_on_hand) as quantity_on_hand
    from stock
    cross join moment
    where
        stock.product_id = {{ product_id }}
        and not stock.is_deleted
        and stock.valid_from < moment.as_of
        and (stock.valid_to is null or stock.valid_to >= moment.as_of)
    group by 1

)

select
    cast('{{ on_date }}' as date) as on_date,
    price_then.product_id,
    price_then.list_price,
    price_then.cost_price,
    coalesce(stock_then.quantity_on_hand, 0) as quantity_on_hand
from price_then
left join stock_then
    on price_then.product_id = stock_then.product_id
