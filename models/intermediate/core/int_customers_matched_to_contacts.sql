{#- Shop customers with their HubSpot contact, by the identity rule (doc block identity). -#}
with

customers as (

    select
        customer_id,
        email_normalized,
        has_valid_email,
        country_code,
        is_marketing_opted_in,
        is_deleted,
        created_at,
        updated_at
    from {{ ref('stg_shop__customers') }}

),

contacts as (

    select
        contact_id,
        email_normalized,
        lifecycle_stage
    from {{ ref('int_contacts_deduplicated') }}

),

-- Only a valid email identifies a person. The key is null otherwise, so the joins below are
-- plain equi-joins (a one-sided condition in a left join's `on` forces a nested loop).
identifiable as (

    select
        *,
        case when has_valid_email then email_normalized end as identity_email
    from customers

),

accounts_per_email as (

    select
        identity_email,
        count(*) as customers_with_email
    from identifiable
    where identity_email is not null
    group by 1

),

final as (

    select
        customers.customer_id,
        customers.email_normalized,
        -- The marts' key for the person: no mart reads the email itself.
        {{ email_key('customers.email_normalized', 'customers.has_valid_email') }} as email_key,
        customers.has_valid_email,
        customers.country_code,
        customers.is_marketing_opted_in,
        customers.is_deleted,
        customers.created_at,
        customers.updated_at,
        contacts.contact_id as hubspot_contact_id,
        contacts.lifecycle_stage,
        coalesce(accounts_per_email.customers_with_email, 1) > 1 as has_duplicate_email
    from identifiable as customers
    left join contacts
        on customers.identity_email = contacts.email_normalized
    left join accounts_per_email
        on customers.identity_email = accounts_per_email.identity_email

)

select * from final
