{{ config(
    unique_key='company_id',
    post_hook="{{ drop_rows_gone_from_raw(source('hubspot', 'companies'), 'company_id', raw_key='id') }}"
) }}

with

source as (

    select * from {{ source('hubspot', 'companies') }}
    where {{ completed_loads_only('hubspot') }}

),

renamed as (

    select
        id as company_id,
        name as company_name,
        lower(trim(domain)) as company_domain,
        industry,
        coalesce(archived, false) as is_archived,
        {{ iso_to_timestamp('createdate') }} as created_at,
        {{ iso_to_timestamp('hs_lastmodifieddate') }} as updated_at,
        {{ to_utc_timestamp('archived_at') }} as archived_at,
        {{ load_columns() }}

    from source

)

select * from renamed
