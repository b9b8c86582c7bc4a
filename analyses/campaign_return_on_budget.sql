{#- Which campaigns paid for themselves: attributed net revenue against budget. -#}
with

campaigns as (

    select
        campaign_name,
        started_on,
        ended_on,
        budget_amount,
        emails_delivered,
        click_rate,
        attributed_valid_orders,
        attributed_net_revenue_usd
    from {{ ref('fct_campaign_performance') }}

)

select
    campaign_name,
    started_on,
    ended_on,
    budget_amount,
    attributed_net_revenue_usd,
    round({{ safe_divide('attributed_net_revenue_usd', 'budget_amount') }}, 2) as revenue_per_budget_dollar,
    attributed_valid_orders,
    click_rate
from campaigns
order by revenue_per_budget_dollar desc nulls last
