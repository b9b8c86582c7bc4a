{{ config(
    unique_key=['email_event_id', 'occurred_at_epoch_ms'],
    post_hook="{{ drop_rows_gone_from_raw(source('hubspot', 'email_events'), ['email_event_id', 'occurred_at_epoch_ms'], raw_key=['id', 'created']) }}"
) }}

with

source as (

    select * from {{ source('hubspot', 'email_events') }}
    where {{ completed_loads_only('hubspot') }}

),

renamed as (

    select
        -- HubSpot identifies an event by (id, created); the id alone is random and unique.
        id as email_event_id,
        lower(type) as event_type,
        lower(trim(recipient)) as recipient_email,
        email_campaign_id,
        category as bounce_category,
        lower(type) = 'statuschange' and upper(portal_subscription_status) = 'UNSUBSCRIBED' as is_unsubscribe,
        created as occurred_at_epoch_ms,
        {{ epoch_ms_to_timestamp('created') }} as occurred_at,
        {{ load_columns() }}

    from source

)

select * from renamed
