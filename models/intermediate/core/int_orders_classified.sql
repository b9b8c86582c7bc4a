{#- Which orders are revenue: see the doc block valid_order. -#}
with

orders as (

    select
        order_id,
        order_status,
        placed_at
    from {{ ref('stg_shop__orders') }}

),

order_statuses as (

    select
        order_status,
        status_group,
        is_revenue_status
    from {{ ref('order_statuses') }}

),

final as (

    select
        orders.order_id,
        order_statuses.status_group,
        -- A clock bug stamps some orders days ahead (docs/spec.md §2); they count once their
        -- time comes.
        orders.placed_at > {{ run_timestamp() }} as is_placed_in_future,
        coalesce(order_statuses.is_revenue_status, false)
        and orders.placed_at <= {{ run_timestamp() }} as is_valid_order
    from orders
    left join order_statuses
        on orders.order_status = order_statuses.order_status

)

select * from final
