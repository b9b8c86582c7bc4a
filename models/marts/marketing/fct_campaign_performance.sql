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
        budget_amount
    from {{ ref('stg_hubspot__campaigns') }}

),

email_events as (

    select
        campaign_id,
        email_campaign_id,
        recipient_email,
        event_type,
        is_unsubscribe
    from {{ ref('int_email_events_attributed_to_campaigns') }}
    where campaign_id is not null

),

orders as (

    select
        campaign_id,
        net_revenue_usd
    from {{ ref('fct_orders') }}
    where is_valid_order and campaign_id is not null

),

-- Unique opens and clicks count each recipient once per send (email campaign id).
email_metrics as (

    select
        campaign_id,
        sum(case when event_type = 'sent' then 1 else 0 end) as emails_sent,
        sum(case when event_type = 'delivered' then 1 else 0 end) as emails_delivered,
        sum(case when event_type = 'bounce' then 1 else 0 end) as emails_bounced,
        count(distinct case when event_type = 'open' then {{ dbt.concat(['cast(email_campaign_id as ' ~ dbt.type_string() ~ ')', "'|'", 'recipient_email']) }} end)
            as unique_opens,
        count(distinct case when event_type = 'click' then {{ dbt.concat(['cast(email_campaign_id as ' ~ dbt.type_string() ~ ')', "'|'", 'recipient_email']) }} end)
            as unique_clicks,
        sum(case when is_unsubscribe then 1 else 0 end) as unsubscribes
    from email_events
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

)

select * from final
