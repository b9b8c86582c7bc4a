{{ config(
    unique_key='marketing_email_id',
    post_hook="{{ drop_rows_gone_from_raw(source('hubspot', 'marketing_emails'), 'marketing_email_id', raw_key='id') }}"
) }}

with

source as (

    select * from {{ source('hubspot', 'marketing_emails') }}
    where {{ completed_loads_only('hubspot') }}

),

renamed as (

    select
        id as marketing_email_id,
        name as email_name,
        subject,
        lower(state) as email_state,
        campaign_id,
        -- The email's sends: email events carry one of these as their emailCampaignId.
        all_email_campaign_ids as email_campaign_ids,
        {{ to_utc_timestamp('publish_date') }} as published_at,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ load_columns() }}

    from source

)

select * from renamed
