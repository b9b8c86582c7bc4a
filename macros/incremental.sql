{#
    CTEs naming the orders an incremental fact must rebuild, ending with `changed_orders`:
    orders whose own row, items or payments changed since the fact's watermark (its latest
    source_updated_at) minus the lookback; orders whose campaign changed (attribution may
    move); orders placed since the watermark, among them those that were in the future at the
    last build (their validity moves with the clock, whenever the next build runs). Changes are found in staging, where updated_at filters reach the raw scans, not in
    the per-order aggregates (which would mean aggregating every order to find a few).
#}
{% macro changed_orders_ctes(watermark_column='source_updated_at') -%}
watermark as (

    select
        {{ dbt.dateadd('day', -var('incremental_lookback_days'), 'coalesce(max(' ~ watermark_column ~ "), cast('1900-01-01' as timestamp))") }}
            as changed_since
    from {{ this }}

),

changed_orders as (

    select changed.order_id
    from {{ ref('stg_shop__orders') }} as changed
    cross join watermark
    where changed.updated_at >= watermark.changed_since

    union

    select changed.order_id
    from {{ ref('stg_shop__order_items') }} as changed
    cross join watermark
    where changed.updated_at >= watermark.changed_since

    union

    select changed.order_id
    from {{ ref('stg_shop__payments') }} as changed
    cross join watermark
    where changed.updated_at >= watermark.changed_since

    union

    -- Orders placed after the watermark: among them every order that was in the future at the
    -- last build (the watermark is never later than that build), whose validity has moved.
    select orders.order_id
    from {{ ref('stg_shop__orders') }} as orders
    cross join watermark
    where orders.placed_at >= watermark.changed_since

    union

    select orders.order_id
    from {{ ref('stg_shop__orders') }} as orders
    inner join {{ ref('stg_hubspot__campaigns') }} as campaigns
        on orders.utm_campaign_normalized = campaigns.utm_campaign_normalized
    cross join watermark
    where campaigns.updated_at >= watermark.changed_since

)
{%- endmacro %}


{#
    In an incremental run, keep only the changed orders' rows (a `where` for an import CTE,
    so that every input is narrowed before the joins); nothing in a full build.
#}
{% macro only_changed_orders(column='order_id') -%}
    {%- if is_incremental() %}
    where {{ column }} in (select changed_orders.order_id from changed_orders)
    {%- endif %}
{%- endmacro %}
