{#-
    Staging reads raw rows of completed loads only, and loses none of them: per table, staging
    shows at least the rows raw holds from completed loads, and no key raw does not hold. The
    two counts are equal but while a load is interrupted half-way: staging then keeps the
    previous version of the rows the unfinished load rewrote. Outside those bounds, a filter or
    a cast dropped rows, or a deleted row stayed.
-#}
{#- Dagster shows this reconciliation as an asset check of stg_shop__orders (dagster-dbt's meta.dagster.ref). -#}
{{ config(meta={'dagster': {'ref': {'name': 'stg_shop__orders'}}}) }}
{%- set tables = [
    ('shop', 'customers', 'stg_shop__customers'),
    ('shop', 'orders', 'stg_shop__orders'),
    ('shop', 'order_items', 'stg_shop__order_items'),
    ('shop', 'payments', 'stg_shop__payments'),
    ('catalog', 'categories', 'stg_catalog__categories'),
    ('catalog', 'products', 'stg_catalog__products'),
    ('catalog', 'inventory_levels', 'stg_catalog__inventory_levels'),
    ('hubspot', 'contacts', 'stg_hubspot__contacts'),
    ('hubspot', 'companies', 'stg_hubspot__companies'),
    ('hubspot', 'deals', 'stg_hubspot__deals'),
    ('hubspot', 'campaigns', 'stg_hubspot__campaigns'),
    ('hubspot', 'marketing_emails', 'stg_hubspot__marketing_emails'),
    ('hubspot', 'email_events', 'stg_hubspot__email_events'),
] -%}

with

counts as (

    {% for source_name, table_name, model in tables %}
        select
            '{{ source_name }}.{{ table_name }}' as raw_table,
            (
                select count(*) from {{ source(source_name, table_name) }}
                where {{ completed_loads_only(source_name) }})
                as raw_rows,
            (select count(*) from {{ source(source_name, table_name) }}) as raw_rows_any_load,
            (select count(*) from {{ ref(model) }}) as staging_rows
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select *
from counts
where staging_rows < raw_rows or staging_rows > raw_rows_any_load
