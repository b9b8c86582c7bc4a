{#- One row per shop customer not forgotten: the 360 view across shop and HubSpot, no clear-text PII. -#}
with

customers as (

    select
        customer_id,
        email_key,
        has_valid_email,
        country_code,
        is_marketing_opted_in,
        is_deleted,
        created_at,
        hubspot_contact_id,
        lifecycle_stage,
        has_duplicate_email
    from {{ ref('int_customers_matched_to_contacts') }}

),

segments as (

    select
        customer_id,
        first_order_at,
        last_order_at,
        lifetime_valid_orders,
        lifetime_net_revenue_usd,
        customer_segment
    from {{ ref('int_customers_segmented') }}

),

country_names as (

    select
        country_code,
        country_name,
        region
    from {{ ref('country_names') }}

),

final as (

    select
        cast(customers.customer_id as bigint) as customer_id,
        cast(customers.email_key as varchar) as email_key,
        cast(customers.country_code as varchar) as country_code,
        cast(coalesce(country_names.country_name, 'Unknown') as varchar) as country_name,
        cast(country_names.region as varchar) as region,
        cast(customers.is_marketing_opted_in as boolean) as is_marketing_opted_in,
        cast(customers.hubspot_contact_id as varchar) as hubspot_contact_id,
        cast(customers.lifecycle_stage as varchar) as lifecycle_stage,
        cast(segments.first_order_at as timestamp) as first_order_at,
        cast(segments.last_order_at as timestamp) as last_order_at,
        cast(segments.lifetime_valid_orders as bigint) as lifetime_valid_orders,
        cast(segments.lifetime_net_revenue_usd as decimal(18, 2)) as lifetime_net_revenue_usd,
        cast(segments.customer_segment as varchar) as customer_segment,
        cast(customers.has_valid_email as boolean) as has_valid_email,
        cast(customers.has_duplicate_email as boolean) as has_duplicate_email,
        cast(customers.created_at as timestamp) as created_at
    from customers
    inner join segments
        on customers.customer_id = segments.customer_id
    left join country_names
        on customers.country_code = country_names.country_code
    where not customers.is_deleted

)

select * from final
