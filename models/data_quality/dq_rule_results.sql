{#- One row per data-quality rule: rows checked, rows failing and the rate, as of this build. -#}
with

rules as (

    select
        rule_name,
        source_name,
        table_name,
        action,
        severity,
        max_failure_rate
    from {{ ref('dq_rules') }}

),

issues as (

    select rule_name
    from {{ ref('dq_issues') }}

),

customers as (

    select
        customer_id,
        email,
        has_valid_email,
        is_deleted
    from {{ ref('stg_shop__customers') }}

),

orders as (

    select order_id
    from {{ ref('stg_shop__orders') }}

),

order_items as (

    select order_item_id
    from {{ ref('stg_shop__order_items') }}

),

payments as (

    select payment_id
    from {{ ref('stg_shop__payments') }}

),

products as (

    select product_id
    from {{ ref('stg_catalog__products') }}

),

contacts as (

    select
        contact_id,
        email,
        has_valid_email,
        is_archived
    from {{ ref('stg_hubspot__contacts') }}

),

email_events as (

    select email_event_id
    from {{ ref('stg_hubspot__email_events') }}

),

-- What each rule looks at: its denominator (a rule may span models: summed below).
checked_by_model as (

    select
        'duplicate_customer_email' as rule_name,
        count(*) as rows_checked
    from customers
    where has_valid_email and not is_deleted
    union all
    select
        'invalid_customer_email' as rule_name,
        count(*) as rows_checked
    from customers
    where email is not null and not is_deleted
    union all
    select
        'missing_country' as rule_name,
        count(*) as rows_checked
    from customers
    where not is_deleted
    union all
    select
        'future_placed_at' as rule_name,
        count(*) as rows_checked
    from orders
    union all
    select
        'total_mismatch' as rule_name,
        count(*) as rows_checked
    from orders
    union all
    select
        'nonpositive_quantity' as rule_name,
        count(*) as rows_checked
    from order_items
    union all
    select
        'orphan_product' as rule_name,
        count(*) as rows_checked
    from order_items
    union all
    select
        'missing_processed_at' as rule_name,
        count(*) as rows_checked
    from payments
    union all
    select
        'missing_category' as rule_name,
        count(*) as rows_checked
    from products
    union all
    select
        'contact_without_email' as rule_name,
        count(*) as rows_checked
    from contacts
    where not is_archived
    union all
    select
        'invalid_contact_email' as rule_name,
        count(*) as rows_checked
    from contacts
    where email is not null and not is_archived
    union all
    select
        'duplicate_contact_email' as rule_name,
        count(*) as rows_checked
    from contacts
    where has_valid_email and not is_archived
    union all
    select
        'event_without_campaign' as rule_name,
        count(*) as rows_checked
    from email_events
    {{- dq_value_rule_checked() }}

),

checked as (

    select
        rule_name,
        sum(rows_checked) as rows_checked
    from checked_by_model
    group by 1

),

failing as (

    select
        rule_name,
        count(*) as rows_failing
    from issues
    group by 1

),

final as (

    select
        rules.rule_name,
        rules.source_name,
        rules.table_name,
        rules.action,
        rules.severity,
        cast(coalesce(checked.rows_checked, 0) as bigint) as rows_checked,
        cast(coalesce(failing.rows_failing, 0) as bigint) as rows_failing,
        cast(
            coalesce({{ safe_divide('coalesce(failing.rows_failing, 0)', 'checked.rows_checked') }}, 0)
            as decimal(9, 6)
        ) as failure_rate,
        rules.max_failure_rate,
        {{ run_timestamp() }} as checked_at,
        '{{ invocation_id }}' as invocation_id
    from rules
    left join checked
        on rules.rule_name = checked.rule_name
    left join failing
        on rules.rule_name = failing.rule_name

)

select * from final
