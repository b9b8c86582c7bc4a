{#
    Value-domain rules: what a source holds outside the domains seen so far (an enumerated value,
    a range, a pattern, a cross-column sanity check). Production data does this (a new warehouse,
    a new SKU scheme, oversold stock): these are facts to flag and count, never reasons to stop
    publishing. Each rule is declared once here; dq_issues quarantines its failing rows with the
    reason, dq_rule_results reports its rate against the tolerance in seed dq_rules, and the
    `dq_rule` test on the column warns. The data flows on to the marts under its own value.

    A rule: name (a row of seed dq_rules), model (a staging model with `_load_id`), key (its
    primary key), failing (a predicate on the model's columns), reason (an expression).
#}
{% macro dq_value_rules() %}
    {%- set text = dbt.type_string() -%}
    {{ return([
        {'name': 'unknown_order_status', 'model': 'stg_shop__orders', 'key': 'order_id',
         'failing': "order_status not in (select order_status from " ~ ref('order_statuses') ~ ")",
         'reason': "'status ' || coalesce(order_status, 'null')"},
        {'name': 'unknown_channel', 'model': 'stg_shop__orders', 'key': 'order_id',
         'failing': outside_domain('channel', 'channel'),
         'reason': "'channel ' || coalesce(channel, 'null')"},
        {'name': 'invalid_order_amounts', 'model': 'stg_shop__orders', 'key': 'order_id',
         'failing': 'subtotal < 0 or discount_amount < 0 or discount_amount > subtotal',
         'reason': "'subtotal ' || cast(subtotal as " ~ text ~ ") || ', discount ' || cast(discount_amount as " ~ text ~ ")"},
        {'name': 'negative_unit_price', 'model': 'stg_shop__order_items', 'key': 'order_item_id',
         'failing': 'unit_price < 0',
         'reason': "'unit price ' || cast(unit_price as " ~ text ~ ")"},
        {'name': 'unknown_payment_value', 'model': 'stg_shop__payments', 'key': 'payment_id',
         'failing': outside_domain('payment_method', 'payment_method') ~ ' or ' ~ outside_domain('payment_status', 'payment_status'),
         'reason': "'method ' || coalesce(payment_method, 'null') || ', status ' || coalesce(payment_status, 'null')"},
        {'name': 'customer_created_in_future', 'model': 'stg_shop__customers', 'key': 'customer_id',
         'failing': 'created_at > ' ~ run_timestamp(),
         'reason': "'created ' || cast(created_at as " ~ text ~ ")"},
        {'name': 'unexpected_sku_format', 'model': 'stg_catalog__products', 'key': 'product_id',
         'failing': 'not ' ~ regex_matches('sku', '^SKU-[0-9]{7}$'),
         'reason': "'sku ' || coalesce(sku, 'null')"},
        {'name': 'negative_price', 'model': 'stg_catalog__products', 'key': 'product_id',
         'failing': 'list_price < 0 or cost_price < 0',
         'reason': "'list ' || cast(list_price as " ~ text ~ ") || ', cost ' || cast(cost_price as " ~ text ~ ")"},
        {'name': 'unknown_warehouse_code', 'model': 'stg_catalog__inventory_levels', 'key': 'inventory_level_id',
         'failing': outside_domain('warehouse_code', 'warehouse_code'),
         'reason': "'warehouse ' || coalesce(warehouse_code, 'null')"},
        {'name': 'negative_stock', 'model': 'stg_catalog__inventory_levels', 'key': 'inventory_level_id',
         'failing': 'quantity_on_hand < 0',
         'reason': "'on hand ' || cast(quantity_on_hand as " ~ text ~ ")"},
        {'name': 'reserved_above_on_hand', 'model': 'stg_catalog__inventory_levels', 'key': 'inventory_level_id',
         'failing': 'quantity_reserved < 0 or quantity_reserved > quantity_on_hand',
         'reason': "'reserved ' || cast(quantity_reserved as " ~ text ~ ") || ' of ' || cast(quantity_on_hand as " ~ text ~ ")"},
        {'name': 'unknown_lifecycle_stage', 'model': 'stg_hubspot__contacts', 'key': 'contact_id',
         'failing': outside_domain('lifecycle_stage', 'lifecycle_stage'),
         'reason': "'lifecycle stage ' || lifecycle_stage"},
        {'name': 'unknown_deal_stage', 'model': 'stg_hubspot__deals', 'key': 'deal_id',
         'failing': outside_domain('deal_stage', 'deal_stage'),
         'reason': "'deal stage ' || deal_stage"},
        {'name': 'negative_deal_amount', 'model': 'stg_hubspot__deals', 'key': 'deal_id',
         'failing': 'amount < 0',
         'reason': "'amount ' || cast(amount as " ~ text ~ ")"},
        {'name': 'invalid_campaign_plan', 'model': 'stg_hubspot__campaigns', 'key': 'campaign_id',
         'failing': 'started_on > ended_on or budget_amount < 0',
         'reason': "'from ' || coalesce(cast(started_on as " ~ text ~ "), '?') || ' to ' || coalesce(cast(ended_on as " ~ text ~ "), '?') || ', budget ' || coalesce(cast(budget_amount as " ~ text ~ "), '?')"},
        {'name': 'unknown_email_event_type', 'model': 'stg_hubspot__email_events', 'key': 'email_event_id',
         'failing': outside_domain('event_type', 'email_event_type'),
         'reason': "'event type ' || event_type"},
        {'name': 'invalid_event_recipient', 'model': 'stg_hubspot__email_events', 'key': 'email_event_id',
         'failing': 'recipient_email is not null and not ' ~ is_valid_email('recipient_email'),
         'reason': "'recipient is not a plausible address'"},
    ] + uncastable_rules('uncastable_shop_value', ['stg_shop__orders', 'stg_shop__order_items', 'stg_shop__payments'])
      + uncastable_rules('uncastable_catalog_value', ['stg_catalog__products', 'stg_catalog__inventory_levels'])
    ) }}
{% endmacro %}


{# One rule over several staging models: rows with a value raw holds that did not cast (see `typed`). #}
{% macro uncastable_rules(name, models) %}
    {%- set rules = [] -%}
    {%- for model in models -%}
        {%- set entity = model.split('__')[1] -%}
        {%- do rules.append({
            'name': name, 'model': model,
            'key': 'inventory_level_id' if entity == 'inventory_levels' else entity[:-1] ~ '_id',
            'failing': '_uncastable_columns is not null',
            'reason': "'" ~ entity ~ ": ' || _uncastable_columns || ' did not cast'"}) -%}
    {%- endfor -%}
    {{ return(rules) }}
{% endmacro %}


{# True when a non-null value is not among the seed domain_values of its domain. #}
{% macro outside_domain(expression, domain) -%}
    ({{ expression }} is not null and {{ expression }} not in (
        select domain_values.value from {{ ref('domain_values') }} as domain_values
        where domain_values.domain = '{{ domain }}'
    ))
{%- endmacro %}


{# The issue rows of the value-domain rules, for dq_issues: one select per rule. #}
{% macro dq_value_rule_issues() -%}
    {%- for rule in dq_value_rules() %}
    union all

    select
        '{{ rule.name }}' as rule_name,
        cast({{ rule.key }} as {{ dbt.type_string() }}) as record_key,
        {{ rule.reason }} as reason,
        _load_id
    from {{ ref(rule.model) }}
    where {{ rule.failing }}
    {% endfor -%}
{%- endmacro %}


{# The rows each value-domain rule checks, for dq_rule_results: every row of its model. #}
{% macro dq_value_rule_checked() -%}
    {%- for rule in dq_value_rules() %}
    union all
    select
        '{{ rule.name }}' as rule_name,
        count(*) as rows_checked
    from {{ ref(rule.model) }}
    {%- endfor %}
{%- endmacro %}
