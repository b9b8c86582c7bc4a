{#- One row per marketing email send (HubSpot's email campaign id) and recipient: what happened
    to that one email, from its events. The funnel's unique counts are sums here. -#}
with

email_events as (

    select
        email_campaign_id,
        marketing_email_id,
        campaign_id,
        recipient_email,
        event_type,
        is_unsubscribe,
        occurred_at
    from {{ ref('int_email_events_attributed_to_campaigns') }}

),

sends as (

    select
        email_campaign_id,
        recipient_email,
        max(marketing_email_id) as marketing_email_id,
        max(campaign_id) as campaign_id,
        -- Events from before the load window can leave a send without its SENT event.
        coalesce(min(case when event_type = 'sent' then occurred_at end), min(occurred_at)) as sent_at,
        sum(case when event_type = 'sent' then 1 else 0 end) as sent_events,
        sum(case when event_type = 'delivered' then 1 else 0 end) as delivered_events,
        sum(case when event_type = 'bounce' then 1 else 0 end) as bounce_events,
        max(case when event_type = 'open' then 1 else 0 end) as opened,
        max(case when event_type = 'click' then 1 else 0 end) as clicked,
        sum(case when is_unsubscribe then 1 else 0 end) as unsubscribes
    from email_events
    group by 1, 2

),

final as (

    select
        cast({{ surrogate_key(['email_campaign_id', hash_pii('recipient_email')]) }} as varchar) as email_send_id,
        cast(email_campaign_id as bigint) as email_campaign_id,
        cast(marketing_email_id as varchar) as marketing_email_id,
        cast(campaign_id as varchar) as campaign_id,
        cast({{ hash_pii('recipient_email') }} as varchar) as recipient_key,
        cast(sent_at as timestamp) as sent_at,
        cast(sent_at as date) as sent_date,
        cast(sent_events as bigint) as sent_events,
        cast(delivered_events as bigint) as delivered_events,
        cast(bounce_events as bigint) as bounce_events,
        -- An open or click by an unknown recipient cannot be counted once per recipient.
        cast(opened = 1 and recipient_email is not null as boolean) as is_opened,
        cast(clicked = 1 and recipient_email is not null as boolean) as is_clicked,
        cast(unsubscribes as bigint) as unsubscribes
    from sends

)

select * from final
