with

order_items as (

    select
        order_item_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        discount_amount,
        has_positive_quantity,
        updated_at
    from {{ ref('stg_shop__order_items') }}

),

products as (

    select product_id
    from {{ ref('stg_catalog__products') }}

),

final as (

    select
        order_items.order_item_id,
        order_items.order_id,
        order_items.product_id,
        order_items.quantity,
        order_items.unit_price,
        order_items.discount_amount,
        -- Lines with a quantity of zero or less are shop bugs (docs/spec.md §2): they carry
        -- no amount.
        case
            when order_items.has_positive_quantity
                then order_items.quantity * order_items.unit_price - order_items.discount_amount
            else 0
        end as line_net_amount,
        order_items.has_positive_quantity,
        products.product_id is null as is_orphan_product,
        order_items.updated_at
    from order_items
    left join products
        on order_items.product_id = products.product_id

)

select * from final
