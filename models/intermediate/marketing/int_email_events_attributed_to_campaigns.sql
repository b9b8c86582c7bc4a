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

sends as (

    select
        email_campaign_id,
        marketing_email_id,
        campaign_id
    from {{ ref('int_email_sends_attributed_to_campaigns') }}

),

final as (

    select
        email_events.email_event_id,
        email_events.event_type,
        email_events.recipient_email,
        -- The marts' key for the recipient: no mart reads the address itself.
        {{ hash_pii('email_events.recipient_email') }} as recipient_key,
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
