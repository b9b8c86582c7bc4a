{#- Email events with the marketing email and campaign they belong to. -#}
with

email_events as (

    select
        email_event_id,
        event_type,
        recipient_email,
        email_campaign_id,
        is_unsubscribe,
        occurred_at,
        _loaded_at
    from {{ ref('stg_hubspot__email_events') }}

),

marketing_emails as (

    select
        marketing_email_id,
        campaign_id,
        email_campaign_ids
    from {{ ref('stg_hubspot__marketing_emails') }}

),

-- An email goes out as one or more sends (A/B tests); events carry the send's id.
sends as (

    select
        marketing_emails.marketing_email_id,
        marketing_emails.campaign_id,
        cast({{ json_array_value('email_campaign_id') }} as bigint) as email_campaign_id
    from marketing_emails
    {{ json_array_rows('marketing_emails.email_campaign_ids', 'email_campaign_id') }}

),

final as (

    select
        email_events.email_event_id,
        email_events.event_type,
        email_events.recipient_email,
        email_events.email_campaign_id,
        email_events.is_unsubscribe,
        email_events.occurred_at,
        email_events._loaded_at,
        sends.marketing_email_id,
        sends.campaign_id
    from email_events
    left join sends
        on email_events.email_campaign_id = sends.email_campaign_id

)

select * from final
