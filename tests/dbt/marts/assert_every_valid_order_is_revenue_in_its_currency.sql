{#- Net revenue never exceeds the order's merchandise in dollars, and is never negative. -#}
select
    order_id,
    subtotal,
    discount_amount,
    usd_per_unit,
    net_revenue_usd
from {{ ref('fct_orders') }}
where
    net_revenue_usd < 0
    or net_revenue_usd > round(subtotal * usd_per_unit, 2)
