{#
    The data-quality rules, each declared once, here. A rule reads one staging model (a row of it
    is `checked_row` in subqueries) and says:
      - name, and the docs/spec.md §2 defect it detects (description);
      - action: what the marts do with a failing record (corrected, excluded, flagged);
      - severity of its rate test (warn unless said) and tolerance (the failure rate allowed);
      - model and key: the staging model and its primary key; the source and table follow from
        the model's name (stg_<source>__<table>);
      - checked: the rows it looks at, its denominator (every row unless said);
      - failing: the predicate a checked row breaks, and reason: an expression saying why;
      - scope: what an incremental build of dq_issues re-checks (see dq_issue_rows):
        'row' (the default) when the predicate reads the row alone (and seeds: a changed seed
        needs `--full-refresh`), so only the rows staging rewrote; 'clock' when it compares the
        row with the build's clock, so those and the records the rule holds (they may leave
        as time passes); 'whole' when it reads other rows or models, so every row.
    A rule spanning several models lists them in `checks` instead (see uncastable_checks).

    Everything else is generated from this list: the model dq_rules (the rules as a table),
    dq_issues (the quarantine, macro dq_issue_rows) and dq_rule_results (the rates, macro
    dq_checked_rows). The marts never read a rule's predicate: they carry their own flags, and
    the quarantine shows which records the flags touch.
#}
{% macro dq_rules() %}
    {%- set text = dbt.type_string() -%}
    {{ return([
        {'name': 'duplicate_customer_email', 'action': 'flagged', 'tolerance': 0.03, 'scope': 'whole',
         'description': "Another account has the same email after lowercasing and trimming; both kept, flagged in dim_customers.has_duplicate_email",
         'model': 'stg_shop__customers', 'key': 'customer_id',
         'checked': 'has_valid_email and not is_deleted',
         'failing': "exists (select 1 from " ~ ref('stg_shop__customers') ~ " as earlier
            where earlier.email_normalized = checked_row.email_normalized
              and earlier.has_valid_email and not earlier.is_deleted
              and earlier.customer_id < checked_row.customer_id)",
         'reason': "'a second account with the same normalised email'"},
        {'name': 'invalid_customer_email', 'action': 'excluded', 'tolerance': 0.03,
         'description': "The email is not a plausible address; the customer takes no part in identity resolution and has no email_key",
         'model': 'stg_shop__customers', 'key': 'customer_id',
         'checked': 'email is not null and not is_deleted',
         'failing': 'not has_valid_email',
         'reason': "'not a plausible address'"},
        {'name': 'missing_country', 'action': 'flagged', 'tolerance': 0.05,
         'description': "No country_code; reported as country Unknown",
         'model': 'stg_shop__customers', 'key': 'customer_id',
         'checked': 'not is_deleted',
         'failing': 'country_code is null',
         'reason': "'country_code is null'"},
        {'name': 'future_placed_at', 'action': 'excluded', 'tolerance': 0.01, 'scope': 'clock',
         'description': "placed_at is later than the build (the shop's clock bug); excluded from valid orders until its time comes",
         'model': 'stg_shop__orders', 'key': 'order_id',
         'failing': 'placed_at > ' ~ run_timestamp(),
         'reason': "'placed_at is after the build'"},
        {'name': 'total_mismatch', 'action': 'flagged', 'tolerance': 0.01,
         'description': "total_amount does not equal subtotal - discount + shipping + tax; net revenue does not use it",
         'model': 'stg_shop__orders', 'key': 'order_id',
         'failing': 'has_total_mismatch',
         'reason': "'total is off by ' || cast(total_amount - (subtotal - discount_amount + shipping_amount + tax_amount) as " ~ text ~ ")"},
        {'name': 'nonpositive_quantity', 'action': 'excluded', 'tolerance': 0.01,
         'description': "Quantity of zero or less; the line carries no amount and no units",
         'model': 'stg_shop__order_items', 'key': 'order_item_id',
         'failing': 'not has_positive_quantity',
         'reason': "'quantity ' || cast(quantity as " ~ text ~ ")"},
        {'name': 'orphan_product', 'action': 'flagged', 'tolerance': 0.01, 'scope': 'whole',
         'description': "product_id is not in the catalog; kept, flagged is_orphan_product",
         'model': 'stg_shop__order_items', 'key': 'order_item_id',
         'failing': "checked_row.order_item_id in (select line.order_item_id from " ~ ref('int_order_items_joined_to_products') ~ " as line
            where line.is_orphan_product)",
         'reason': "'product ' || cast(product_id as " ~ text ~ ") || ' is not in the catalog'"},
        {'name': 'missing_processed_at', 'action': 'corrected', 'tolerance': 0.02,
         'description': "A processed payment without processing time: the legacy zero date, turned into NULL by the loader",
         'model': 'stg_shop__payments', 'key': 'payment_id',
         'failing': 'is_missing_processed_at',
         'reason': "'processed payment without processed_at (legacy zero date)'"},
        {'name': 'missing_category', 'action': 'corrected', 'tolerance': 0.02,
         'description': "No category; reported as Uncategorized",
         'model': 'stg_catalog__products', 'key': 'product_id',
         'failing': 'category_id is null',
         'reason': "'category_id is null'"},
        {'name': 'contact_without_email', 'action': 'excluded', 'tolerance': 0.05,
         'description': "A live contact without email; it cannot be matched to a customer",
         'model': 'stg_hubspot__contacts', 'key': 'contact_id',
         'checked': 'not is_archived',
         'failing': 'email is null',
         'reason': "'no email'"},
        {'name': 'invalid_contact_email', 'action': 'excluded', 'tolerance': 0.05,
         'description': "A live contact whose email is not a plausible address; it cannot be matched",
         'model': 'stg_hubspot__contacts', 'key': 'contact_id',
         'checked': 'email is not null and not is_archived',
         'failing': 'not has_valid_email',
         'reason': "'not a plausible address'"},
        {'name': 'duplicate_contact_email', 'action': 'excluded', 'tolerance': 0.05, 'scope': 'whole',
         'description': "A live contact sharing its email with a more recently modified one, which represents the person",
         'model': 'stg_hubspot__contacts', 'key': 'contact_id',
         'checked': 'has_valid_email and not is_archived',
         'failing': "checked_row.contact_id not in (select kept.contact_id from " ~ ref('int_contacts_deduplicated') ~ " as kept)",
         'reason': "'another live contact with this email was modified more recently'"},
        {'name': 'event_without_campaign', 'action': 'excluded', 'tolerance': 0.01, 'scope': 'whole',
         'description': "An email event whose send belongs to no known marketing email (or a portal that does not serve marketing emails); left out of campaign figures, which stay right",
         'model': 'stg_hubspot__email_events', 'key': 'email_event_id',
         'failing': "checked_row.email_event_id in (select attributed.email_event_id from " ~ ref('int_email_events_attributed_to_campaigns') ~ " as attributed
            where attributed.campaign_id is null)",
         'reason': "'send ' || cast(email_campaign_id as " ~ text ~ ") || ' belongs to no marketing email'"},
        {'name': 'unknown_order_status', 'action': 'flagged', 'tolerance': 0.01,
         'description': "A status the seed order_statuses does not know; the order keeps it and is not revenue until the seed says it is",
         'model': 'stg_shop__orders', 'key': 'order_id',
         'failing': "order_status not in (select order_status from " ~ ref('order_statuses') ~ ")",
         'reason': "'status ' || coalesce(order_status, 'null')"},
        {'name': 'unknown_channel', 'action': 'flagged', 'tolerance': 0.01,
         'description': "A channel outside the known ones; kept under its own value in the marts",
         'model': 'stg_shop__orders', 'key': 'order_id',
         'failing': outside_domain('channel', 'channel'),
         'reason': "'channel ' || coalesce(channel, 'null')"},
        {'name': 'invalid_order_amounts', 'action': 'flagged', 'tolerance': 0.01,
         'description': "A negative subtotal or discount, or a discount above the subtotal; the amounts are kept as the shop holds them",
         'model': 'stg_shop__orders', 'key': 'order_id',
         'failing': 'subtotal < 0 or discount_amount < 0 or discount_amount > subtotal',
         'reason': "'subtotal ' || cast(subtotal as " ~ text ~ ") || ', discount ' || cast(discount_amount as " ~ text ~ ")"},
        {'name': 'negative_unit_price', 'action': 'flagged', 'tolerance': 0.01,
         'description': "A line with a negative unit price; kept as the shop holds it",
         'model': 'stg_shop__order_items', 'key': 'order_item_id',
         'failing': 'unit_price < 0',
         'reason': "'unit price ' || cast(unit_price as " ~ text ~ ")"},
        {'name': 'unknown_payment_value', 'action': 'flagged', 'tolerance': 0.01,
         'description': "A payment method or status outside the known ones; kept under its own value",
         'model': 'stg_shop__payments', 'key': 'payment_id',
         'failing': outside_domain('payment_method', 'payment_method') ~ ' or ' ~ outside_domain('payment_status', 'payment_status'),
         'reason': "'method ' || coalesce(payment_method, 'null') || ', status ' || coalesce(payment_status, 'null')"},
        {'name': 'customer_created_in_future', 'action': 'flagged', 'tolerance': 0.01, 'scope': 'clock',
         'description': "An account whose created_at is after the build (clock skew); kept as is",
         'model': 'stg_shop__customers', 'key': 'customer_id',
         'failing': 'created_at > ' ~ run_timestamp(),
         'reason': "'created ' || cast(created_at as " ~ text ~ ")"},
        {'name': 'unexpected_sku_format', 'action': 'flagged', 'tolerance': 0.01,
         'description': "A SKU outside the SKU-0000000 scheme (a new scheme, an import); kept as is",
         'model': 'stg_catalog__products', 'key': 'product_id',
         'failing': 'not ' ~ regex_matches('sku', '^SKU-[0-9]{7}$'),
         'reason': "'sku ' || coalesce(sku, 'null')"},
        {'name': 'negative_price', 'action': 'flagged', 'tolerance': 0.01,
         'description': "A negative list or cost price; kept as the catalog holds it",
         'model': 'stg_catalog__products', 'key': 'product_id',
         'failing': 'list_price < 0 or cost_price < 0',
         'reason': "'list ' || cast(list_price as " ~ text ~ ") || ', cost ' || cast(cost_price as " ~ text ~ ")"},
        {'name': 'unknown_warehouse_code', 'action': 'flagged', 'tolerance': 0.01,
         'description': "Stock in a warehouse the domain list does not know (a new site); counted in stock under its own code",
         'model': 'stg_catalog__inventory_levels', 'key': 'inventory_level_id',
         'failing': outside_domain('warehouse_code', 'warehouse_code'),
         'reason': "'warehouse ' || coalesce(warehouse_code, 'null')"},
        {'name': 'negative_stock', 'action': 'flagged', 'tolerance': 0.01,
         'description': "Negative stock on hand (oversold); counted as the catalog holds it, so the product is out of stock",
         'model': 'stg_catalog__inventory_levels', 'key': 'inventory_level_id',
         'failing': 'quantity_on_hand < 0',
         'reason': "'on hand ' || cast(quantity_on_hand as " ~ text ~ ")"},
        {'name': 'reserved_above_on_hand', 'action': 'flagged', 'tolerance': 0.01,
         'description': "Reserved stock below zero or above stock on hand (oversold); available stock goes negative",
         'model': 'stg_catalog__inventory_levels', 'key': 'inventory_level_id',
         'failing': 'quantity_reserved < 0 or quantity_reserved > quantity_on_hand',
         'reason': "'reserved ' || cast(quantity_reserved as " ~ text ~ ") || ' of ' || cast(quantity_on_hand as " ~ text ~ ")"},
        {'name': 'unknown_lifecycle_stage', 'action': 'flagged', 'tolerance': 0.05,
         'description': "A lifecycle stage outside HubSpot's defaults (a portal's own stage); kept under its own value",
         'model': 'stg_hubspot__contacts', 'key': 'contact_id',
         'failing': outside_domain('lifecycle_stage', 'lifecycle_stage'),
         'reason': "'lifecycle stage ' || lifecycle_stage"},
        {'name': 'unknown_deal_stage', 'action': 'flagged', 'tolerance': 0.05,
         'description': "A deal stage outside the default pipeline's (a portal's own pipeline); kept under its own value",
         'model': 'stg_hubspot__deals', 'key': 'deal_id',
         'failing': outside_domain('deal_stage', 'deal_stage'),
         'reason': "'deal stage ' || deal_stage"},
        {'name': 'negative_deal_amount', 'action': 'flagged', 'tolerance': 0.01,
         'description': "A deal with a negative amount; kept as HubSpot holds it",
         'model': 'stg_hubspot__deals', 'key': 'deal_id',
         'failing': 'amount < 0',
         'reason': "'amount ' || cast(amount as " ~ text ~ ")"},
        {'name': 'invalid_campaign_plan', 'action': 'flagged', 'tolerance': 0.05,
         'description': "A campaign that ends before it starts or has a negative budget; kept, its return on budget is not trusted",
         'model': 'stg_hubspot__campaigns', 'key': 'campaign_id',
         'failing': 'started_on > ended_on or budget_amount < 0',
         'reason': "'from ' || coalesce(cast(started_on as " ~ text ~ "), '?') || ' to ' || coalesce(cast(ended_on as " ~ text ~ "), '?') || ', budget ' || coalesce(cast(budget_amount as " ~ text ~ "), '?')"},
        {'name': 'unknown_email_event_type', 'action': 'flagged', 'tolerance': 0.01,
         'description': "An email event type outside HubSpot's documented ones; kept, counted in no funnel step",
         'model': 'stg_hubspot__email_events', 'key': 'email_event_id',
         'failing': outside_domain('event_type', 'email_event_type'),
         'reason': "'event type ' || event_type"},
        {'name': 'invalid_event_recipient', 'action': 'flagged', 'tolerance': 0.05,
         'description': "An email event whose recipient is not a plausible address; the event still counts for its campaign",
         'model': 'stg_hubspot__email_events', 'key': 'email_event_id',
         'failing': 'recipient_email is not null and not ' ~ is_valid_email('recipient_email'),
         'reason': "'recipient is not a plausible address'"},
        {'name': 'uncastable_shop_value', 'action': 'flagged', 'tolerance': 0.001,
         'description': "A value raw holds that does not cast to the type staging promises (after a type drift in the shop); it reads as NULL",
         'checks': uncastable_checks({'stg_shop__orders': 'order_id', 'stg_shop__order_items': 'order_item_id', 'stg_shop__payments': 'payment_id'})},
        {'name': 'uncastable_catalog_value', 'action': 'flagged', 'tolerance': 0.001,
         'description': "A value raw holds that does not cast to the type staging promises (after a type drift in the catalog); it reads as NULL",
         'checks': uncastable_checks({'stg_catalog__products': 'product_id', 'stg_catalog__inventory_levels': 'inventory_level_id'})},
    ]) }}
{% endmacro %}


{# The checks of a rule over several staging models: rows with a value raw holds that did not cast (see `typed`). #}
{% macro uncastable_checks(keys) %}
    {%- set checks = [] -%}
    {%- for model, key in keys.items() -%}
        {%- set table = model.split('__')[1] -%}
        {%- do checks.append({
            'model': model, 'key': key,
            'failing': '_uncastable_columns is not null',
            'reason': "'" ~ table ~ ": ' || _uncastable_columns || ' did not cast'"}) -%}
    {%- endfor -%}
    {{ return(checks) }}
{% endmacro %}


{# Every check of every rule, each with its rule's name, its denominator (`true` unless declared) and its source table. #}
{% macro dq_checks() %}
    {%- set checks = [] -%}
    {%- for rule in dq_rules() -%}
        {%- for check in rule.get('checks', [rule]) -%}
            {%- set source, table = check.model.split('__') -%}
            {%- do checks.append({
                'rule': rule.name, 'model': check.model, 'key': check.key,
                'source': source[4:], 'table': table, 'scope': rule.get('scope', 'row'),
                'checked': check.get('checked', 'true'),
                'failing': check.failing, 'reason': check.reason}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(checks) }}
{% endmacro %}


{# The rules as rows, for the model dq_rules: name, source, table(s), action, severity, tolerance, description. #}
{% macro dq_rule_rows() -%}
    {%- set text = dbt.type_string() -%}
    {%- set checks = dq_checks() -%}
    {%- for rule in dq_rules() %}
    {%- set tables = checks | selectattr('rule', 'equalto', rule.name) | map(attribute='table') | list %}
    {%- set sources = checks | selectattr('rule', 'equalto', rule.name) | map(attribute='source') | unique | list %}
    {% if not loop.first %}union all{% endif %}
    select
        cast('{{ rule.name }}' as {{ text }}) as rule_name,
        cast('{{ sources | join(", ") }}' as {{ text }}) as source_name,
        cast('{{ tables | join(", ") }}' as {{ text }}) as table_name,
        cast('{{ rule.action }}' as {{ text }}) as action,
        cast('{{ rule.get("severity", "warn") }}' as {{ text }}) as severity,
        cast({{ rule.tolerance }} as decimal(9, 4)) as max_failure_rate,
        cast('{{ rule.description | replace("'", "''") }}' as {{ text }}) as description
    {%- endfor %}
{%- endmacro %}


{# True when a non-null value is not among the seed domain_values of its domain. #}
{% macro outside_domain(expression, domain) -%}
    ({{ expression }} is not null and {{ expression }} not in (
        select domain_values.value from {{ ref('domain_values') }} as domain_values
        where domain_values.domain = '{{ domain }}'
    ))
{%- endmacro %}


{#
    The quarantine's rows, for dq_issues: one select per check, its failing rows among those it
    checks (rule, table, the record's key as text, reason, load). In an incremental build (with
    the CTE last_build) a check reads the rows its scope says: those staging rewrote since the
    last build and, for 'clock', the records the rule holds; 'whole' reads every row.
#}
{% macro dq_issue_rows() -%}
    {%- for check in dq_checks() %}
    {% if not loop.first %}union all{% endif %}
    select
        '{{ check.rule }}' as rule_name,
        '{{ check.table }}' as table_name,
        cast({{ check.key }} as {{ dbt.type_string() }}) as record_key,
        {{ check.reason }} as reason,
        _load_id
    from {{ ref(check.model) }} as checked_row
    where ({{ check.checked }}) and ({{ check.failing }})
    {%- if is_incremental() and check.scope != 'whole' %}
        and (
            checked_row._built_at > (select last_build.built_at from last_build)
            {%- if check.scope == 'clock' %}
            or cast(checked_row.{{ check.key }} as {{ dbt.type_string() }}) in (
                select held.record_key from {{ this }} as held
                where held.rule_name = '{{ check.rule }}' and held.table_name = '{{ check.table }}'
            )
            {%- endif %}
        )
    {%- endif %}
    {% endfor -%}
{%- endmacro %}


{#
    The issues an incremental build of dq_issues re-examines (issue_id): those of records staging
    rewrote since the last build or no longer holds, and every issue of a 'clock' or 'whole'
    rule. Each leaves the quarantine unless dq_issue_rows finds it again.

    A model with a view of its table's deleted keys (stg_<source>__deleted_<table>) gives the
    records it no longer holds as the keys deleted since the last build: the issues are probed
    with the day's keys, never joined with every key of the model. After a load that replaced
    the table, and for a model without such a view (HubSpot's, which lose rows only on a
    reload), the held issues are compared with the model's keys.
#}
{% macro dq_reexamined_issues() -%}
    {%- set checks = dq_checks() -%}
    {%- set models = checks | map(attribute='model') | unique | list -%}
    {%- set by_deleted_keys = dq_models_with_deleted_keys(models) -%}
    {%- for model in models %}
    {%- set check = checks | selectattr('model', 'equalto', model) | first %}
    {%- set key = check.key %}
    select held.issue_id
    from {{ this }} as held
    {%- if model in by_deleted_keys %}
    where held.source_name = '{{ check.source }}' and held.table_name = '{{ check.table }}'
        and (
            held.record_key in (
                select cast(kept.{{ key }} as {{ dbt.type_string() }}) from {{ ref(model) }} as kept
                where kept._built_at > (select last_build.built_at from last_build)
            )
            or held.record_key in (
                select cast(gone.{{ key }} as {{ dbt.type_string() }})
                from {{ by_deleted_keys[model] }} as gone
                where not gone.is_reload
                    and gone._completed_at > (select last_build.built_at from last_build)
            )
        )
    {%- else %}
    left join {{ ref(model) }} as kept
        on held.record_key = cast(kept.{{ key }} as {{ dbt.type_string() }})
    where held.source_name = '{{ check.source }}' and held.table_name = '{{ check.table }}'
        and (kept.{{ key }} is null or kept._built_at > (select last_build.built_at from last_build))
    {%- endif %}

    union
    {%- endfor %}

    select held.issue_id
    from {{ this }} as held
    where held.rule_name in (
        {%- for rule in checks | rejectattr('scope', 'equalto', 'row') | map(attribute='rule') | unique %}
        '{{ rule }}'{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{#
    model -> the built view of its deleted keys, for the checked models that have one and whose
    table no load replaced since dq_issues' last build (run time only; dq_issues depends on the
    views).
#}
{% macro dq_models_with_deleted_keys(models) -%}
    {%- set views = {} -%}
    {%- if not execute -%}{{ return(views) }}{%- endif -%}
    {%- for model in models -%}
        {%- set view = relation_of_model(model.replace('__', '__deleted_', 1)) -%}
        {%- if view is not none -%}{%- do views.update({model: view}) -%}{%- endif -%}
    {%- endfor -%}
    {%- set reloaded = reloaded_among(views.values() | list, last_built_at(this)) -%}
    {%- set found = {} -%}
    {%- for model, view in views.items() if (view | string) not in reloaded -%}
        {%- do found.update({model: view}) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{# The rows each check looks at, for dq_rule_results: its denominator (a rule may span models: summed there). #}
{% macro dq_checked_rows() -%}
    {%- for check in dq_checks() %}
    {% if not loop.first %}union all{% endif %}
    select
        '{{ check.rule }}' as rule_name,
        count(*) as rows_checked
    from {{ ref(check.model) }} as checked_row
    where {{ check.checked }}
    {%- endfor %}
{%- endmacro %}
