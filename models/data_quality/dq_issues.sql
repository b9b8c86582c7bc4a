{#-
    The quarantine: one row per record breaking a data-quality rule (macro dq_rules), with the
    rule, the reason, the record's key and the load that brought it. Nothing defective is
    silently counted: each record here is corrected, excluded or flagged in the marts as its
    rule says, and the rates are reported in dq_rule_results.

    Incremental: a build re-examines the issues of the records staging rewrote or a load deleted
    since the last build and of the rules whose scope is 'clock' or 'whole' (macro dq_reexamined_issues),
    and checks the rows the rules' scopes say (macro dq_issue_rows). It writes only what changed:
    an issue found again as it was stays untouched, one found with another reason or load is
    rewritten (keeping its detected_at), and a re-examined issue not found again leaves as a
    tombstone (no _built_at) that replaces it on issue_id and that the post-hook deletes.
-#}
{{ config(
    materialized='incremental',
    unique_key='issue_id',
    on_schema_change='fail',
    post_hook="delete from {{ this }} where _built_at is null",
    meta={'tested_rows': 'latest_build'}
) }}

-- The views of deleted keys that dq_reexamined_issues reads:
-- depends_on: {{ ref('stg_shop__deleted_customers') }}
-- depends_on: {{ ref('stg_shop__deleted_orders') }}
-- depends_on: {{ ref('stg_shop__deleted_order_items') }}
-- depends_on: {{ ref('stg_shop__deleted_payments') }}
-- depends_on: {{ ref('stg_catalog__deleted_products') }}
-- depends_on: {{ ref('stg_catalog__deleted_inventory_levels') }}

with

{% if is_incremental() -%}
{{ last_build_cte() }},

reexamined as (
    {{ dq_reexamined_issues() }}
),

{% endif -%}

issues as (
    {{ dq_issue_rows() }}
),

rules as (

    select
        rule_name,
        source_name,
        action,
        severity
    from {{ ref('dq_rules') }}

),

found as (

    select
        {{ surrogate_key(['issues.rule_name', 'issues.table_name', 'issues.record_key']) }}
            as issue_id,
        issues.rule_name,
        rules.source_name,
        issues.table_name,
        issues.record_key,
        issues.reason,
        rules.action,
        rules.severity,
        issues._load_id as load_id
    from issues
    inner join rules
        on issues.rule_name = rules.rule_name

),

final as (

    select
        found.issue_id,
        found.rule_name,
        found.source_name,
        found.table_name,
        found.record_key,
        found.reason,
        found.action,
        found.severity,
        found.load_id,
        {% if is_incremental() %}coalesce(held.detected_at, {{ run_timestamp() }}){% else %}{{ run_timestamp() }}{% endif %}
            as detected_at,
        {{ built_at() }} as _built_at
    from found
    {%- if is_incremental() %}
    left join {{ this }} as held
        on found.issue_id = held.issue_id
    where held.issue_id is null
        or held.reason is distinct from found.reason
        or held.load_id is distinct from found.load_id

    union all

    select
        reexamined.issue_id,
        null as rule_name,
        null as source_name,
        null as table_name,
        null as record_key,
        null as reason,
        null as action,
        null as severity,
        null as load_id,
        null as detected_at,
        null as _built_at
    from reexamined
    where reexamined.issue_id not in (select found.issue_id from found)
    {%- endif %}

)

select * from final
