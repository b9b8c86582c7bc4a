{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ drop_rows_deleted_upstream(ref('stg_shop__customers'), ref('stg_shop__deleted_customers'), 'customer_id') }}",
            "{{ drop_forgotten_customers() }}",
        ]
    )
}}
{#- One row per shop customer not forgotten: the 360 view across shop and HubSpot, no clear-text PII.
    Incremental on the customers a build must recompute (touched_customers): whose account,
    order figures, HubSpot contact or duplicate flag the day changed, or whose segment moved
    with the clock. The pre-hooks drop the accounts deleted in the shop and those forgotten since the last build. A changed seed
    (country_names) or segment variable needs a --full-refresh. -#}

-- depends_on: {{ ref('stg_shop__deleted_customers') }}
-- depends_on: {{ ref('int_contacts_keyed_by_email') }}
-- depends_on: {{ ref('int_customers_sharing_an_email') }}
-- depends_on: {{ ref('int_customers_aggregated_from_orders') }}
-- depends_on: {{ ref('int_customers_pseudonymized') }}

with

{% if is_incremental() %}
{{ last_build_cte(clock=true) }},

changed_accounts as (

    select accounts.customer_id
    from {{ ref('stg_shop__customers') }} as accounts
    cross join last_build
    where accounts._built_at > last_build.built_at

),

changed_contacts as (

    select
        contacts.contact_id,
        contacts.email_key
    from {{ ref('int_contacts_keyed_by_email') }} as contacts
    cross join last_build
    where contacts._built_at > last_build.built_at

),

-- The addresses (as keyed hashes, computed for these rows only) of the rewritten accounts and
-- contacts: the accounts sharing one are recomputed (duplicate flag, HubSpot match).
changed_keys as (

    select pseudonymized.email_key
    from {{ ref('int_customers_pseudonymized') }} as pseudonymized
    where pseudonymized.customer_id in (select changed_accounts.customer_id from changed_accounts)
        and pseudonymized.email_key is not null

    union

    select changed_contacts.email_key
    from changed_contacts
    where changed_contacts.email_key is not null

),

touched_customers as (

    -- The account itself, rewritten by staging.
    select customer_id from changed_accounts

    union

    -- Its order figures, rewritten by the aggregate (which runs first in the same build).
    select aggregates.customer_id
    from {{ ref('int_customers_aggregated_from_orders') }} as aggregates
    cross join last_build
    where aggregates._built_at > last_build.built_at

    union

    -- Held figures of a customer left with no order (the aggregate dropped their row).
    select held.customer_id
    from {{ this }} as held
    where held.lifetime_valid_orders > 0
        and held.customer_id not in (
            select aggregates.customer_id
            from {{ ref('int_customers_aggregated_from_orders') }} as aggregates
        )

    union

    -- A segment that moved with the clock: the last valid order crossed the lapse threshold.
    select held.customer_id
    from {{ this }} as held
    cross join last_build
    where held.last_order_at >= {{ dbt.dateadd('day', -var('lapsed_after_days'), 'least(last_build.as_of, ' ~ run_timestamp() ~ ')') }}
        and held.last_order_at <= {{ dbt.dateadd('day', -var('lapsed_after_days'), 'greatest(last_build.as_of, ' ~ run_timestamp() ~ ')') }}

    union

    -- Accounts held with the address of a rewritten account or contact ...
    select held.customer_id
    from {{ this }} as held
    where held.email_key in (select changed_keys.email_key from changed_keys)

    union

    -- ... or with the address a rewritten or vanished account had (an account not held is
    -- new, so rewritten, or deleted, so not in this table) ...
    select held.customer_id
    from {{ this }} as held
    where held.email_key in (
        select before.email_key
        from {{ this }} as before
        where before.customer_id in (select changed_accounts.customer_id from changed_accounts)
    )

    union

    select held.customer_id
    from {{ this }} as held
    where held.email_key in (
        select before.email_key
        from {{ this }} as before
        where before.customer_id not in (
            select accounts.customer_id from {{ ref('stg_shop__customers') }} as accounts
        )
    )

    union

    -- ... or matched to a rewritten or vanished contact.
    select held.customer_id
    from {{ this }} as held
    where held.hubspot_contact_id in (select changed_contacts.contact_id from changed_contacts)

    union

    select held.customer_id
    from {{ this }} as held
    where held.hubspot_contact_id is not null
        and held.hubspot_contact_id not in (
            select contacts.contact_id from {{ ref('int_contacts_keyed_by_email') }} as contacts
        )

    union

    -- Flagged as a duplicate though no other account has the address any more (the other was
    -- deleted, or changed while it was not in this table).
    select held.customer_id
    from {{ this }} as held
    where held.has_duplicate_email
        and held.customer_id not in (
            select sharing.customer_id
            from {{ ref('int_customers_sharing_an_email') }} as sharing
        )

),
{% endif %}

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
    {%- if is_incremental() %}
    where customer_id in (select touched_customers.customer_id from touched_customers)
    {%- endif %}

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
    {%- if is_incremental() %}
    where customer_id in (select touched_customers.customer_id from touched_customers)
    {%- endif %}

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
        cast(customers.created_at as timestamp) as created_at,
        cast({{ run_timestamp() }} as timestamp) as _as_of,
        {{ built_at() }} as _built_at
    from customers
    inner join segments
        on customers.customer_id = segments.customer_id
    left join country_names
        on customers.country_code = country_names.country_code
    where not customers.is_deleted

)

select * from final
