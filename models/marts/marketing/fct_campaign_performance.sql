{#- One row per HubSpot campaign: what its emails did and the revenue attributed to it. -#}
with

campaigns as (

    select
        campaign_id,
        campaign_name,
        utm_campaign,
        campaign_status,
        started_on,
        ended_on,
        budget_amount,
        currency_code
    from {{ ref('stg_hubspot__campaigns') }}

),

fx_rates as (

    select
        currency_code,
        usd_per_unit
    from {{ ref('fx_rates') }}

),

email_sends as (

    select
        campaign_id,
        sent_events,
        delivered_events,
        bounce_events,
        is_opened,
        is_clicked,
        unsubscribes
    from {{ ref('fct_email_sends') }}
    where campaign_id is not null

),

orders as (

    select
        campaign_id,
        net_revenue_usd
    from {{ ref('fct_orders') }}
    where is_valid_order and campaign_id is not null

),

-- Unique opens and clicks count each recipient once per send (fct_email_sends' grain).
email_metrics as (

    select
        campaign_id,
        sum(sent_events) as emails_sent,
        sum(delivered_events) as emails_delivered,
        sum(bounce_events) as emails_bounced,
        sum(case when is_opened then 1 else 0 end) as unique_opens,
        sum(case when is_clicked then 1 else 0 end) as unique_clicks,
        sum(unsubscribes) as unsubscribes
    from email_sends
    group by 1

),

order_metrics as (

    select
        campaign_id,
        count(*) as attributed_valid_orders,
        sum(net_revenue_usd) as attributed_net_revenue_usd
    from orders
    group by 1

),

final as (

    select
        cast(campaigns.campaign_id as varchar) as campaign_id,
        cast(campaigns.campaign_name as varchar) as campaign_name,
        cast(campaigns.utm_campaign as varchar) as utm_campaign,
        cast(campaigns.campaign_status as varchar) as campaign_status,
        cast(campaigns.started_on as date) as started_on,
        cast(campaigns.ended_on as date) as ended_on,
        cast(campaigns.budget_amount as decimal(18, 2)) as budget_amount,
        cast(campaigns.currency_code as varchar) as budget_currency,
        cast(round(campaigns.budget_amount * fx_rates.usd_per_unit, 2) as decimal(18, 2)) as budget_usd,
        cast(coalesce(email_metrics.emails_sent, 0) as bigint) as emails_sent,
        cast(coalesce(email_metrics.emails_delivered, 0) as bigint) as emails_delivered,
        cast(coalesce(email_metrics.emails_bounced, 0) as bigint) as emails_bounced,
        cast(coalesce(email_metrics.unique_opens, 0) as bigint) as unique_opens,
        cast(coalesce(email_metrics.unique_clicks, 0) as bigint) as unique_clicks,
        cast(coalesce(email_metrics.unsubscribes, 0) as bigint) as unsubscribes,
        cast(
            round({{ safe_divide('coalesce(email_metrics.unique_opens, 0)', 'email_metrics.emails_delivered') }}, 4)
            as decimal(9, 4)
        ) as open_rate,
        cast(
            round({{ safe_divide('coalesce(email_metrics.unique_clicks, 0)', 'email_metrics.emails_delivered') }}, 4)
            as decimal(9, 4)
        ) as click_rate,
        cast(coalesce(order_metrics.attributed_valid_orders, 0) as bigint) as attributed_valid_orders,
        cast(coalesce(order_metrics.attributed_net_revenue_usd, 0) as decimal(18, 2)) as attributed_net_revenue_usd
    from campaigns
    left join email_metrics
        on campaigns.campaign_id = email_metrics.campaign_id
    left join order_metrics
        on campaigns.campaign_id = order_metrics.campaign_id
    left join fx_rates
        on campaigns.currency_code = fx_rates.currency_code

)

select * from final
