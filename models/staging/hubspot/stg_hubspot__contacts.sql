{{ config(
    unique_key='contact_id',
    post_hook="{{ drop_rows_gone_from_raw(source('hubspot', 'contacts'), 'contact_id', raw_key='id') }}"
) }}

with

source as (

    select * from {{ source('hubspot', 'contacts') }}
    where {{ completed_loads_only('hubspot') }}

),

renamed as (

    select
        id as contact_id,
        email,
        {{ email_columns('email') }},
        nullif(trim(firstname), '') as first_name,
        nullif(trim(lastname), '') as last_name,
        nullif(trim(phone), '') as phone,
        lower(lifecyclestage) as lifecycle_stage,
        coalesce({{ text_to_boolean('hs_email_optout') }}, false) as is_email_opted_out,
        coalesce(archived, false) as is_archived,
        associated_company_ids as company_ids,
        {{ iso_to_timestamp('createdate') }} as created_at,
        {{ iso_to_timestamp('lastmodifieddate') }} as updated_at,
        {{ to_utc_timestamp('archived_at') }} as archived_at,
        {{ load_columns() }}

    from source

)

select * from renamed
