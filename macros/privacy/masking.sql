{#
    Snowflake masking policies generated from the PII declaration (`meta: {pii: ...}` on a
    column): one policy per kind of PII, in the target database's `privacy` schema. Only a
    session holding the role SHOPSPHERE_PII_READER_ROLE (default PII_READER; grant it to
    TRANSFORMER, which builds staging from raw) reads clear text; every other role reads null.
    Keyed hashes and values derived from PII are not masked. On DuckDB nothing is done: there,
    whoever opens the file reads everything (docs/privacy.md).
#}
{% macro masked_pii_kinds() -%}
    {{ return(['email', 'name', 'phone', 'address']) }}
{%- endmacro %}


{% macro pii_masking_policy(kind) -%}
    {{ target.database }}.privacy.pii_{{ kind }}
{%- endmacro %}


{# on-run-start: the policies exist before any model that uses them is built. #}
{% macro create_pii_masking_policies() -%}
    {%- if execute and target.type == 'snowflake' -%}
        {%- do run_query('create schema if not exists ' ~ target.database ~ '.privacy') -%}
        {%- for kind in masked_pii_kinds() -%}
            {%- do run_query(
                'create masking policy if not exists ' ~ pii_masking_policy(kind)
                ~ " as (value varchar) returns varchar -> case when is_role_in_session('"
                ~ env_var('SHOPSPHERE_PII_READER_ROLE', 'PII_READER')
                ~ "') then value else null end"
                ~ " comment = 'ShopSphere: " ~ kind ~ " PII, clear text for the PII reader role only'"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}


{# The declared PII columns of a node (model, snapshot or source) that are masked: [(name, kind)]. #}
{% macro masked_pii_columns(node) -%}
    {%- set found = [] -%}
    {%- for column in node.columns.values() -%}
        {%- set meta = column.get('meta', {}) if column is mapping else column.meta -%}
        {%- set config = column.get('config', {}) if column is mapping else column.config -%}
        {%- set kind = meta.get('pii') or (config.get('meta', {}) if config is mapping else config.meta).get('pii') -%}
        {%- if kind in masked_pii_kinds() -%}
            {%- do found.append((column.name if column is not mapping else column['name'], kind)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{# Attaches each masked column of `relation` to its kind's policy (FORCE: re-applying is idempotent). #}
{% macro attach_pii_masking(relation, columns) -%}
    {%- for name, kind in columns -%}
        {%- do run_query(
            'alter table ' ~ relation ~ ' modify column ' ~ adapter.quote(name)
            ~ ' set masking policy ' ~ pii_masking_policy(kind) ~ ' force'
        ) -%}
    {%- endfor -%}
{%- endmacro %}


{# post-hook of every model and snapshot (dbt_project.yml): masks the ones that declare PII. #}
{% macro mask_pii_columns() -%}
    {%- if execute and target.type == 'snowflake' -%}
        {%- set columns = masked_pii_columns(graph.nodes[model.unique_id]) -%}
        {%- if columns and model.config.materialized != 'view' -%}
            {%- do attach_pii_masking(this, columns) -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#
    `dbt run-operation mask_pii_in_raw`: the same policies on raw's PII columns, and on dlt's
    `<schema>_staging` copies. The loader creates those tables, so this runs after a load, as a
    role holding APPLY MASKING POLICY (docs/privacy.md).
#}
{% macro mask_pii_in_raw() -%}
    {%- if execute and target.type == 'snowflake' -%}
        {%- for source in graph.sources.values() -%}
            {%- set columns = masked_pii_columns(source) -%}
            {%- for schema in [source.schema, source.schema ~ '_staging'] if columns -%}
                {%- set relation = adapter.get_relation(source.database, schema, source.identifier) -%}
                {%- if relation is not none -%}
                    {%- do attach_pii_masking(relation, columns) -%}
                    {{ log('masked ' ~ columns | length ~ ' PII column(s) of ' ~ relation, info=true) }}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
