{#-
    The quarantine: one row per record breaking a data-quality rule (seed dq_rules), with the
    rule, the reason, the record's key and the load that brought it. Nothing defective is
    silently counted: each record here is corrected, excluded or flagged in the marts as its
    rule says, and the rates are reported in dq_rule_results.
-#}
with

customers as (

    select
        customer_id,
        email,
        email_normalized,
        has_valid_email,
        country_code,
        is_deleted,
        _load_id
    from {{ ref('stg_shop__customers') }}

),

orders as (

    select
        order_id,
        placed_at,
        has_total_mismatch,
        total_amount,
        subtotal,
        discount_amount,
        shipping_amount,
        tax_amount,
        _load_id
    from {{ ref('stg_shop__orders') }}

),

order_items as (

    select
        order_item_id,
        product_id,
        quantity,
        is_orphan_product,
        has_positive_quantity
    from {{ ref('int_order_items_joined_to_products') }}

),

order_item_loads as (

    select
        order_item_id,
        _load_id
    from {{ ref('stg_shop__order_items') }}

),

payments as (

    select
        payment_id,
        is_missing_processed_at,
        _load_id
    from {{ ref('stg_shop__payments') }}

),

products as (

    select
        product_id,
        category_id,
        _load_id
    from {{ ref('stg_catalog__products') }}

),

contacts as (

    select
        contact_id,
        email,
        email_normalized,
        has_valid_email,
        is_archived,
        _load_id
    from {{ ref('stg_hubspot__contacts') }}

),

deduplicated_contacts as (

    select contact_id
    from {{ ref('int_contacts_deduplicated') }}

),

email_events as (

    select
        email_event_id,
        email_campaign_id,
        campaign_id
    from {{ ref('int_email_events_attributed_to_campaigns') }}

),

email_event_loads as (

    select
        email_event_id,
        _load_id
    from {{ ref('stg_hubspot__email_events') }}

),

customer_duplicates as (

    select
        customer_id,
        _load_id,
        row_number() over (partition by email_normalized order by customer_id) as account_rank
    from customers
    where has_valid_email and not is_deleted

),

issues as (

    select
        'duplicate_customer_email' as rule_name,
        cast(customer_id as {{ dbt.type_string() }}) as record_key,
        'a second account with the same normalised email' as reason,
        _load_id
    from customer_duplicates
    where account_rank > 1

    union all

    select
        'invalid_customer_email' as rule_name,
        cast(customer_id as {{ dbt.type_string() }}) as record_key,
        'not a plausible address' as reason,
        _load_id
    from customers
    where email is not null and not has_valid_email and not is_deleted

    union all

    select
        'missing_country' as rule_name,
        cast(customer_id as {{ dbt.type_string() }}) as record_key,
        'country_code is null' as reason,
        _load_id
    from customers
    where country_code is null and not is_deleted

    union all

    select
        'future_placed_at' as rule_name,
        cast(order_id as {{ dbt.type_string() }}) as record_key,
        'placed_at is after the build' as reason,
        _load_id
    from orders
    where placed_at > {{ run_timestamp() }}

    union all

    select
        'total_mismatch' as rule_name,
        cast(order_id as {{ dbt.type_string() }}) as record_key,
        'total is off by ' || cast(
            total_amount - (subtotal - discount_amount + shipping_amount + tax_amount) as {{ dbt.type_string() }}
        ) as reason,
        _load_id
    from orders
    where has_total_mismatch

    union all

    select
        'nonpositive_quantity' as rule_name,
        cast(order_items.order_item_id as {{ dbt.type_string() }}) as record_key,
        'quantity ' || cast(order_items.quantity as {{ dbt.type_string() }}) as reason,
        order_item_loads._load_id
    from order_items
    inner join order_item_loads
        on order_items.order_item_id = order_item_loads.order_item_id
    where not order_items.has_positive_quantity

    union all

    select
        'orphan_product' as rule_name,
        cast(order_items.order_item_id as {{ dbt.type_string() }}) as record_key,
        'product ' || cast(order_items.product_id as {{ dbt.type_string() }}) || ' is not in the catalog' as reason,
        order_item_loads._load_id
    from order_items
    inner join order_item_loads
        on order_items.order_item_id = order_item_loads.order_item_id
    where order_items.is_orphan_product

    union all

    select
        'missing_processed_at' as rule_name,
        cast(payment_id as {{ dbt.type_string() }}) as record_key,
        'processed payment without processed_at (legacy zero date)' as reason,
        _load_id
    from payments
    where is_missing_processed_at

    union all

    select
        'missing_category' as rule_name,
        cast(product_id as {{ dbt.type_string() }}) as record_key,
        'category_id is null' as reason,
        _load_id
    from products
    where category_id is null

    union all

    select
        'contact_without_email' as rule_name,
        contact_id,
        'no email' as reason,
        _load_id
    from contacts
    where email is null and not is_archived

    union all

    select
        'invalid_contact_email' as rule_name,
        contact_id,
        'not a plausible address' as reason,
        _load_id
    from contacts
    where email is not null and not has_valid_email and not is_archived

    union all

    select
        'duplicate_contact_email' as rule_name,
        contacts.contact_id,
        'another live contact with this email was modified more recently' as reason,
        contacts._load_id
    from contacts
    left join deduplicated_contacts
        on contacts.contact_id = deduplicated_contacts.contact_id
    where
        contacts.has_valid_email
        and not contacts.is_archived
        and deduplicated_contacts.contact_id is null

    union all

    select
        'event_without_campaign' as rule_name,
        email_events.email_event_id,
        'send ' || cast(email_events.email_campaign_id as {{ dbt.type_string() }}) || ' belongs to no marketing email' as reason,
        email_event_loads._load_id
    from email_events
    inner join email_event_loads
        on email_events.email_event_id = email_event_loads.email_event_id
    where email_events.campaign_id is null
    {{ dq_value_rule_issues() }}
),

rules as (

    select
        rule_name,
        source_name,
        table_name,
        action,
        severity
    from {{ ref('dq_rules') }}

),

final as (

    select
        {{ surrogate_key(['issues.rule_name', 'issues.record_key']) }} as issue_id,
        issues.rule_name,
        rules.source_name,
        rules.table_name,
        issues.record_key,
        issues.reason,
        rules.action,
        rules.severity,
        issues._load_id as load_id,
        {{ run_timestamp() }} as detected_at
    from issues
    inner join rules
        on issues.rule_name = rules.rule_name

)

select * from final
