{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook="delete from {{ this }} where order_count = 0"
    )
}}
{#- Per customer with an order: their valid orders' history and value, and how many orders of
    any status they have. Incremental on the customers a build must recompute (touched_customers):
    the day's orders, not history. A changed FX rate or status seed needs a --full-refresh. -#}

with

{% if is_incremental() %}
{{ last_build_cte(clock=true) }},

order_counts as (

    select
        customer_id,
        count(*) as order_count
    from {{ ref('stg_shop__orders') }}
    where customer_id is not null
    group by 1

),

touched_customers as (

    -- Orders staging rewrote since the last build: new, changed, or moved to this customer.
    select orders.customer_id
    from {{ ref('stg_shop__orders') }} as orders
    cross join last_build
    where orders._built_at > last_build.built_at
        and orders.customer_id is not null

    union

    -- Orders whose validity moved with the clock since the last build (placed in the future
    -- then, due now; or the other way when a build runs with an earlier as_of).
    select orders.customer_id
    from {{ ref('stg_shop__orders') }} as orders
    cross join last_build
    where orders.customer_id is not null
        and orders.placed_at > least(last_build.as_of, {{ run_timestamp() }})
        and orders.placed_at <= greatest(last_build.as_of, {{ run_timestamp() }})

    union

    -- Customers who lost an order (hard-deleted, or moved to another customer): staging holds
    -- no trace of it, so the counts tell (one scan of one column, no join).
    select held.customer_id
    from {{ this }} as held
    left join order_counts
        on held.customer_id = order_counts.customer_id
    where held.order_count is distinct from order_counts.order_count

),
{% endif %}

orders as (

    select
        order_id,
        customer_id,
        placed_at
    from {{ ref('stg_shop__orders') }}
    where customer_id is not null
    {%- if is_incremental() %}
        and customer_id in (select touched_customers.customer_id from touched_customers)
    {%- endif %}

),

classified as (

    select
        order_id,
        is_valid_order
    from {{ ref('int_orders_classified') }}
    {%- if is_incremental() %}
    where order_id in (select orders.order_id from orders)
    {%- endif %}

),

converted as (

    select
        order_id,
        net_revenue_usd
    from {{ ref('int_orders_converted_to_usd') }}
    {%- if is_incremental() %}
    where order_id in (select orders.order_id from orders)
    {%- endif %}

),

-- An order counts when it is valid and its currency converts (an unknown currency has no USD
-- value, so it is not revenue).
orders_valued as (

    select
        orders.customer_id,
        orders.placed_at,
        converted.net_revenue_usd,
        coalesce(classified.is_valid_order, false) and converted.order_id is not null as is_counted
    from orders
    left join classified
        on orders.order_id = classified.order_id
    left join converted
        on orders.order_id = converted.order_id

),

aggregated as (

    select
        customer_id,
        min(case when is_counted then placed_at end) as first_order_at,
        max(case when is_counted then placed_at end) as last_order_at,
        count(case when is_counted then 1 end) as lifetime_valid_orders,
        sum(case when is_counted then net_revenue_usd end) as lifetime_net_revenue_usd,
        count(*) as order_count
    from orders_valued
    group by 1

),

-- The customers this build writes: every one with an order, or the touched ones. A touched
-- customer left with no order gets a row of zeros, which replaces the held one and is then
-- deleted (post-hook): delete+insert replaces only the keys it writes.
written as (

    select customer_id from aggregated
    {%- if is_incremental() %}

    union

    select customer_id from touched_customers
    {%- endif %}

),

final as (

    select
        cast(written.customer_id as bigint) as customer_id,
        cast(aggregated.first_order_at as timestamp) as first_order_at,
        cast(aggregated.last_order_at as timestamp) as last_order_at,
        cast(coalesce(aggregated.lifetime_valid_orders, 0) as bigint) as lifetime_valid_orders,
        cast(aggregated.lifetime_net_revenue_usd as decimal(18, 2)) as lifetime_net_revenue_usd,
        cast(coalesce(aggregated.order_count, 0) as bigint) as order_count,
        cast({{ run_timestamp() }} as timestamp) as _as_of,
        {{ built_at() }} as _built_at
    from written
    left join aggregated
        on written.customer_id = aggregated.customer_id

)

select * from final
