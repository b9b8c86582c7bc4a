{#- Every HubSpot contact (archived ones too) with its email as the marts' keyed hash: what
    dim_customers compares to find the accounts a changed contact matches, without reading an
    address. The hash is computed for the rows a query keeps. -#}
with

contacts as (

    select
        contact_id,
        email_normalized,
        has_valid_email,
        _built_at
    from {{ ref('stg_hubspot__contacts') }}

),

final as (

    select
        contact_id,
        {{ email_key() }} as email_key,
        _built_at
    from contacts

)

select * from final
