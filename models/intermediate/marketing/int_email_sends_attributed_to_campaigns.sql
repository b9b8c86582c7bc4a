{#- One row per email send (HubSpot's email campaign id) with the marketing email and campaign
    it belongs to: an email goes out as one or more sends (A/B tests), and events carry the
    send's id. -#}
with

marketing_emails as (

    select
        marketing_email_id,
        campaign_id,
        email_campaign_ids
    from {{ ref('stg_hubspot__marketing_emails') }}

),

final as (

    select
        cast({{ json_array_value('email_campaign_id') }} as bigint) as email_campaign_id,
        marketing_emails.marketing_email_id,
        marketing_emails.campaign_id
    from marketing_emails
    {{ json_array_rows('marketing_emails.email_campaign_ids', 'email_campaign_id') }}

)

select * from final
