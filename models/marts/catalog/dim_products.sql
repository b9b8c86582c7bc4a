{#- One row per catalog product with its category and the stock held across all warehouses. -#}
with

products as (

    select
        product_id,
        sku,
        product_name,
        category_id,
        brand,
        list_price,
        cost_price,
        currency_code,
        is_active
    from {{ ref('stg_catalog__products') }}

),

categories as (

    select
        category_id,
        category_name,
        top_category_name
    from {{ ref('int_categories_flattened') }}

),

stock as (

    select
        product_id,
        quantity_on_hand,
        quantity_available,
        warehouse_count
    from {{ ref('int_inventory_levels_aggregated_to_products') }}

),

final as (

    select
        cast(products.product_id as bigint) as product_id,
        cast(products.sku as varchar) as sku,
        cast(products.product_name as varchar) as product_name,
        cast(products.category_id as integer) as category_id,
        -- Products without a category (docs/spec.md §2) are reported as such, not dropped.
        cast(coalesce(categories.category_name, 'Uncategorized') as varchar) as category_name,
        cast(coalesce(categories.top_category_name, 'Uncategorized') as varchar) as top_category_name,
        cast(products.brand as varchar) as brand,
        cast(products.list_price as decimal(12, 2)) as list_price,
        cast(products.cost_price as decimal(12, 2)) as cost_price,
        cast(products.currency_code as varchar) as currency,
        cast(coalesce(stock.quantity_on_hand, 0) as bigint) as quantity_on_hand,
        cast(coalesce(stock.quantity_available, 0) as bigint) as quantity_available,
        cast(coalesce(stock.warehouse_count, 0) as integer) as warehouse_count,
        cast(coalesce(stock.quantity_on_hand, 0) > 0 as boolean) as is_in_stock,
        cast(products.is_active as boolean) as is_active,
        cast({{ run_timestamp() }} as date) as stock_as_of_date
    from products
    left join categories
        on products.category_id = categories.category_id
    left join stock
        on products.product_id = stock.product_id

)

select * from final
