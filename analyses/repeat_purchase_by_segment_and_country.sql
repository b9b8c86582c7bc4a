{#- How many customers buy again, by segment and country? -#}
with

customers as (

    select
        customer_segment,
        country_name,
        lifetime_valid_orders,
        lifetime_net_revenue_usd
    from {{ ref('dim_customers') }}

)

select
    customer_segment,
    country_name,
    count(*) as customers,
    sum(case when lifetime_valid_orders >= 2 then 1 else 0 end) as repeat_customers,
    round({{ safe_divide('sum(case when lifetime_valid_orders >= 2 then 1 else 0 end)', 'count(*)') }}, 3)
        as repeat_rate,
    round(avg(lifetime_net_revenue_usd), 2) as average_lifetime_net_revenue_usd
from customers
group by 1, 2
order by 1, 2
