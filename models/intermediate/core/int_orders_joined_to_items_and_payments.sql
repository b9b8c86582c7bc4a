{#- Per order: what its lines and payments add up to. -#}
with

orders as (

    select
        order_id,
        updated_at
    from {{ ref('stg_shop__orders') }}

),

order_items as (

    select
        order_id,
        quantity,
        line_net_amount,
        has_positive_quantity,
        is_orphan_product,
        updated_at
    from {{ ref('int_order_items_joined_to_products') }}

),

payments as (

    select
        order_id,
        payment_status,
        amount,
        updated_at
    from {{ ref('stg_shop__payments') }}

),

items_per_order as (

    select
        order_id,
        sum(case when has_positive_quantity then quantity else 0 end) as item_count,
        count(*) as line_count,
        sum(case when has_positive_quantity then 0 else 1 end) as invalid_line_count,
        sum(case when is_orphan_product then 1 else 0 end) as orphan_line_count,
        sum(line_net_amount) as lines_net_amount,
        max(updated_at) as items_updated_at
    from order_items
    group by 1

),

payments_per_order as (

    select
        order_id,
        count(*) as payment_attempt_count,
        sum(case when payment_status = 'captured' then amount else 0 end) as captured_amount,
        sum(case when payment_status = 'refunded' then amount else 0 end) as refunded_amount,
        max(updated_at) as payments_updated_at
    from payments
    group by 1

),

final as (

    select
        orders.order_id,
        coalesce(items_per_order.item_count, 0) as item_count,
        coalesce(items_per_order.line_count, 0) as line_count,
        coalesce(items_per_order.invalid_line_count, 0) as invalid_line_count,
        coalesce(items_per_order.orphan_line_count, 0) as orphan_line_count,
        coalesce(items_per_order.lines_net_amount, 0) as lines_net_amount,
        coalesce(payments_per_order.payment_attempt_count, 0) as payment_attempt_count,
        coalesce(payments_per_order.captured_amount, 0) as captured_amount,
        coalesce(payments_per_order.refunded_amount, 0) as refunded_amount,
        -- When anything about the order last changed: what incremental facts re-read from.
        greatest(
            orders.updated_at,
            coalesce(items_per_order.items_updated_at, orders.updated_at),
            coalesce(payments_per_order.payments_updated_at, orders.updated_at)
        ) as source_updated_at
    from orders
    left join items_per_order
        on orders.order_id = items_per_order.order_id
    left join payments_per_order
        on orders.order_id = payments_per_order.order_id

)

select * from final
