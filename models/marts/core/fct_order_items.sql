{{
    config(
        materialized='incremental',
        unique_key='order_item_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        pre_hook="{{ drop_rows_deleted_upstream(ref('stg_shop__order_items'), ref('stg_shop__deleted_order_items'), 'order_item_id') }}"
    )
}}
{#- Incremental on the orders whose row, lines or payments changed, as fct_orders (an item
    carries its order's validity; it has no campaign). -#}

-- depends_on: {{ ref('stg_shop__deleted_order_items') }}
-- depends_on: {{ ref('stg_shop__order_items') }}
-- depends_on: {{ ref('stg_shop__payments') }}

with

{% if is_incremental() %}
{{ changed_orders_ctes() }},
{% endif %}

order_items as (

    select
        order_item_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        discount_amount,
        line_net_amount,
        has_positive_quantity,
        is_orphan_product
    from {{ ref('int_order_items_joined_to_products') }}
    {{ only_changed_orders() }}

),

orders as (

    select
        order_id,
        order_date
    from {{ ref('stg_shop__orders') }}
    {{ only_changed_orders() }}

),

converted as (

    select
        order_id,
        usd_per_unit
    from {{ ref('int_orders_converted_to_usd') }}
    {{ only_changed_orders() }}

),

classified as (

    select
        order_id,
        is_valid_order
    from {{ ref('int_orders_classified') }}
    {{ only_changed_orders() }}

),

order_totals as (

    select
        order_id,
        source_updated_at
    from {{ ref('int_orders_joined_to_items_and_payments') }}
    {{ only_changed_orders() }}

),

-- The quarantine's order-line rules (macro dq_rules), whatever their action.
quarantined_lines as (

    select distinct record_key
    from {{ ref('dq_issues') }}
    where table_name = 'order_items'

),

final as (

    select
        cast(order_items.order_item_id as bigint) as order_item_id,
        cast(order_items.order_id as bigint) as order_id,
        cast(order_items.product_id as bigint) as product_id,
        cast(orders.order_date as date) as order_date,
        cast(order_items.quantity as integer) as quantity,
        cast(order_items.unit_price as decimal(12, 2)) as unit_price,
        cast(order_items.discount_amount as decimal(12, 2)) as discount_amount,
        cast(order_items.line_net_amount as decimal(18, 2)) as line_net_amount,
        cast(round(order_items.line_net_amount * converted.usd_per_unit, 2) as decimal(18, 2))
            as line_net_amount_usd,
        cast(order_items.has_positive_quantity as boolean) as has_positive_quantity,
        cast(order_items.is_orphan_product as boolean) as is_orphan_product,
        cast(classified.is_valid_order as boolean) as is_valid_order,
        cast(quarantined_lines.record_key is not null as boolean) as is_quarantined,
        cast(order_totals.source_updated_at as timestamp) as source_updated_at,
        {{ built_at() }} as _built_at
    from order_items
    inner join orders
        on order_items.order_id = orders.order_id
    inner join converted
        on order_items.order_id = converted.order_id
    inner join classified
        on order_items.order_id = classified.order_id
    inner join order_totals
        on order_items.order_id = order_totals.order_id
    left join quarantined_lines
        on cast(order_items.order_item_id as {{ dbt.type_string() }}) = quarantined_lines.record_key

)

select * from final
