{{
    config(
        materialized='incremental',
        unique_key='email_send_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#- One row per marketing email send (HubSpot's email campaign id) and recipient: what happened
    to that one email, from its events. The funnel's unique counts are sums here.
    Incremental: the sends with events loaded since the newest this table holds, and every send
    whose marketing email or campaign moved, are recomputed from all their events. HubSpot
    never deletes an event; a reload that drops some needs a --full-refresh of this model. -#}

-- depends_on: {{ ref('int_email_sends_attributed_to_campaigns') }}

with

{% if is_incremental() %}
watermark as (

    select coalesce(max(events_loaded_at), cast('1900-01-01' as timestamp)) as loaded_since
    from {{ this }}

),

changed_sends as (

    select distinct
        coalesce(events.email_campaign_id, -1) as send,
        coalesce(events.recipient_key, '') as recipient,
        true as is_changed
    from {{ ref('int_email_events_attributed_to_campaigns') }} as events
    cross join watermark
    -- Strictly after: the newest load this table holds was read whole by an earlier build.
    where events._loaded_at > watermark.loaded_since

),

changed_email_sends as (

    -- Sends whose marketing email or campaign is no longer the one this table holds: an email
    -- moved to another campaign, a send added to an email or taken from it.
    select held.email_campaign_id
    from (
        select distinct email_campaign_id, marketing_email_id, campaign_id from {{ this }}
    ) as held
    left join {{ ref('int_email_sends_attributed_to_campaigns') }} as sends
        on held.email_campaign_id = sends.email_campaign_id
    where held.marketing_email_id is distinct from cast(sends.marketing_email_id as varchar)
        or held.campaign_id is distinct from cast(sends.campaign_id as varchar)

),
{% endif %}

email_events as (

    select
        events.email_campaign_id,
        events.marketing_email_id,
        events.campaign_id,
        events.recipient_key,
        events.event_type,
        events.is_unsubscribe,
        events.occurred_at,
        events._loaded_at
    from {{ ref('int_email_events_attributed_to_campaigns') }} as events
    {%- if is_incremental() %}
    left join changed_sends
        on coalesce(events.email_campaign_id, -1) = changed_sends.send
        and coalesce(events.recipient_key, '') = changed_sends.recipient
    where changed_sends.is_changed
        or events.email_campaign_id in (
            select changed_email_sends.email_campaign_id from changed_email_sends
        )
    {%- endif %}

),

sends as (

    select
        email_campaign_id,
        recipient_key,
        max(marketing_email_id) as marketing_email_id,
        max(campaign_id) as campaign_id,
        -- Events from before the load window can leave a send without its SENT event.
        coalesce(min(case when event_type = 'sent' then occurred_at end), min(occurred_at)) as sent_at,
        sum(case when event_type = 'sent' then 1 else 0 end) as sent_events,
        sum(case when event_type = 'delivered' then 1 else 0 end) as delivered_events,
        sum(case when event_type = 'bounce' then 1 else 0 end) as bounce_events,
        max(case when event_type = 'open' then 1 else 0 end) as opened,
        max(case when event_type = 'click' then 1 else 0 end) as clicked,
        sum(case when is_unsubscribe then 1 else 0 end) as unsubscribes,
        max(_loaded_at) as events_loaded_at
    from email_events
    group by 1, 2

),

final as (

    select
        cast({{ surrogate_key(['email_campaign_id', 'recipient_key']) }} as varchar) as email_send_id,
        cast(email_campaign_id as bigint) as email_campaign_id,
        cast(marketing_email_id as varchar) as marketing_email_id,
        cast(campaign_id as varchar) as campaign_id,
        cast(recipient_key as varchar) as recipient_key,
        cast(sent_at as timestamp) as sent_at,
        cast(sent_at as date) as sent_date,
        cast(sent_events as bigint) as sent_events,
        cast(delivered_events as bigint) as delivered_events,
        cast(bounce_events as bigint) as bounce_events,
        -- An open or click by an unknown recipient cannot be counted once per recipient.
        cast(opened = 1 and recipient_key is not null as boolean) as is_opened,
        cast(clicked = 1 and recipient_key is not null as boolean) as is_clicked,
        cast(unsubscribes as bigint) as unsubscribes,
        cast(events_loaded_at as timestamp) as events_loaded_at,
        {{ built_at() }} as _built_at
    from sends

)

select * from final
