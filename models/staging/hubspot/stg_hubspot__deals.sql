{{ config(
    unique_key='deal_id',
    post_hook="{{ drop_rows_gone_from_raw(source('hubspot', 'deals'), 'deal_id', raw_key='id') }}"
) }}

with

source as (

    select * from {{ source('hubspot', 'deals') }}
    where {{ completed_loads_only('hubspot') }}

),

renamed as (

    select
        id as deal_id,
        dealname as deal_name,
        {{ typed("nullif(amount, '')", 'decimal(18, 2)') }} as amount,
        dealstage as deal_stage,
        pipeline as deal_pipeline,
        coalesce(archived, false) as is_archived,
        associated_contact_ids as contact_ids,
        associated_company_ids as company_ids,
        {{ iso_to_timestamp('closedate') }} as closed_at,
        {{ iso_to_timestamp('createdate') }} as created_at,
        {{ iso_to_timestamp('hs_lastmodifieddate') }} as updated_at,
        {{ to_utc_timestamp('archived_at') }} as archived_at,
        {{ load_columns() }}

    from source

)

select * from renamed
