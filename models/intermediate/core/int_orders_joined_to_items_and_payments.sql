{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{{ drop_rows_deleted_upstream(ref('stg_shop__orders'), ref('stg_shop__deleted_orders'), 'order_id') }}"
    )
}}
{#- Per order: what its lines and payments add up to. A table, incremental on the orders whose
    row, lines or payments staging rewrote since its last build (each input is narrowed to them
    before the aggregates), so that the facts read a day's orders, not every line's; the
    pre-hook drops orders the shop purged (macro drop_rows_deleted_upstream). -#}

-- depends_on: {{ ref('stg_shop__deleted_orders') }}
-- depends_on: {{ ref('stg_shop__order_items') }}

with

{% if is_incremental() %}
{{ last_build_cte() }},

changed_orders as (
    {{ orders_rewritten_since_last_build() }}
),
{% endif %}

orders as (

    select
        order_id,
        updated_at
    from {{ ref('stg_shop__orders') }}
    {{ only_changed_orders() }}

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
    {{ only_changed_orders() }}

),

payments as (

    select
        order_id,
        payment_status,
        amount,
        updated_at
    from {{ ref('stg_shop__payments') }}
    {{ only_changed_orders() }}

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

    -- Stored narrow: sums are 128-bit in DuckDB, which it reads several times slower.
    select
        orders.order_id,
        cast(coalesce(items_per_order.item_count, 0) as bigint) as item_count,
        cast(coalesce(items_per_order.line_count, 0) as bigint) as line_count,
        cast(coalesce(items_per_order.invalid_line_count, 0) as bigint) as invalid_line_count,
        cast(coalesce(items_per_order.orphan_line_count, 0) as bigint) as orphan_line_count,
        cast(coalesce(items_per_order.lines_net_amount, 0) as decimal(18, 2)) as lines_net_amount,
        cast(coalesce(payments_per_order.payment_attempt_count, 0) as bigint) as payment_attempt_count,
        cast(coalesce(payments_per_order.captured_amount, 0) as decimal(18, 2)) as captured_amount,
        cast(coalesce(payments_per_order.refunded_amount, 0) as decimal(18, 2)) as refunded_amount,
        -- When anything about the order last changed: what incremental facts re-read from.
        greatest(
            orders.updated_at,
            coalesce(items_per_order.items_updated_at, orders.updated_at),
            coalesce(payments_per_order.payments_updated_at, orders.updated_at)
        ) as source_updated_at,
        {{ built_at() }} as _built_at
    from orders
    left join items_per_order
        on orders.order_id = items_per_order.order_id
    left join payments_per_order
        on orders.order_id = payments_per_order.order_id

)

select * from final
