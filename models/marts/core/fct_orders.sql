{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        pre_hook="{{ drop_rows_deleted_upstream(ref('stg_shop__orders'), ref('stg_shop__deleted_orders'), 'order_id') }}"
    )
}}
{#- Incremental: the orders that changed (see changed_orders_ctes); the pre-hook drops orders
    the shop purged, by the keys the loads deleted (macro drop_rows_deleted_upstream). -#}

-- depends_on: {{ ref('stg_shop__deleted_orders') }}
-- depends_on: {{ ref('int_campaigns_keyed_by_utm') }}
-- depends_on: {{ ref('stg_shop__order_items') }}
-- depends_on: {{ ref('stg_shop__payments') }}

with

{% if is_incremental() %}
{{ changed_orders_ctes(campaigns=true) }},
{% endif %}

orders as (

    select
        order_id,
        customer_id,
        placed_at,
        order_date,
        order_status,
        channel,
        currency_code,
        subtotal,
        discount_amount,
        shipping_amount,
        tax_amount,
        total_amount,
        utm_campaign,
        has_total_mismatch
    from {{ ref('stg_shop__orders') }}
    {{ only_changed_orders() }}

),

order_totals as (

    select
        order_id,
        item_count,
        invalid_line_count,
        orphan_line_count,
        captured_amount,
        refunded_amount,
        source_updated_at
    from {{ ref('int_orders_joined_to_items_and_payments') }}
    {{ only_changed_orders() }}

),

converted as (

    select
        order_id,
        usd_per_unit,
        net_revenue_usd,
        discount_usd
    from {{ ref('int_orders_converted_to_usd') }}
    {{ only_changed_orders() }}

),

attributed as (

    select
        order_id,
        campaign_id
    from {{ ref('int_orders_attributed_to_campaigns') }}
    {{ only_changed_orders() }}

),

classified as (

    select
        order_id,
        status_group,
        is_placed_in_future,
        is_valid_order
    from {{ ref('int_orders_classified') }}
    {{ only_changed_orders() }}

),

final as (

    select
        cast(orders.order_id as bigint) as order_id,
        cast(orders.customer_id as bigint) as customer_id,
        cast(orders.placed_at as timestamp) as placed_at,
        cast(orders.order_date as date) as order_date,
        cast(orders.order_status as varchar) as status,
        cast(classified.status_group as varchar) as status_group,
        cast(orders.channel as varchar) as channel,
        cast(orders.currency_code as varchar) as currency,
        cast(orders.subtotal as decimal(12, 2)) as subtotal,
        cast(orders.discount_amount as decimal(12, 2)) as discount_amount,
        cast(orders.shipping_amount as decimal(12, 2)) as shipping_amount,
        cast(orders.tax_amount as decimal(12, 2)) as tax_amount,
        cast(orders.total_amount as decimal(12, 2)) as total_amount,
        cast(converted.usd_per_unit as decimal(12, 6)) as usd_per_unit,
        cast(converted.net_revenue_usd as decimal(18, 2)) as net_revenue_usd,
        cast(converted.discount_usd as decimal(18, 2)) as discount_usd,
        cast(order_totals.item_count as bigint) as item_count,
        cast(order_totals.captured_amount as decimal(18, 2)) as captured_amount,
        cast(order_totals.refunded_amount as decimal(18, 2)) as refunded_amount,
        cast(classified.is_valid_order as boolean) as is_valid_order,
        cast(classified.is_placed_in_future as boolean) as is_placed_in_future,
        cast(orders.has_total_mismatch as boolean) as has_total_mismatch,
        cast(order_totals.invalid_line_count > 0 as boolean) as has_invalid_lines,
        cast(order_totals.orphan_line_count > 0 as boolean) as has_orphan_products,
        cast(attributed.campaign_id as varchar) as campaign_id,
        cast(orders.utm_campaign as varchar) as utm_campaign,
        cast(order_totals.source_updated_at as timestamp) as source_updated_at,
        {{ built_at() }} as _built_at
    from orders
    inner join order_totals
        on orders.order_id = order_totals.order_id
    inner join converted
        on orders.order_id = converted.order_id
    inner join attributed
        on orders.order_id = attributed.order_id
    inner join classified
        on orders.order_id = classified.order_id

)

select * from final
