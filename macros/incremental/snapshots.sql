{#
    dbt's snapshot compares its whole source with every current row it holds: the cost of a
    run is the table's, whatever the day changed. A snapshot whose config names the staging
    view of its table's deleted keys (`meta: {changed_keys: {deleted_keys: <view>}}`) compares
    only the keys that changed since its last run:

    - the rows of its source that staging wrote after the newest `_built_at` the snapshot holds
      (staging stamps every row it writes; a version the snapshot records carries its stamp),
    - and the keys deleted by loads that completed after it.

    dbt's own comparison then runs on those keys' source rows and snapshotted rows (a view of
    them beside the snapshot, dropped by `drop_snapshot_changed_keys`): per key it decides
    exactly what the whole comparison decides, and a key outside the set has nothing new.
    The whole comparison stays for a snapshot's first run after it gained `_built_at`, after a
    load that replaced the table (its deleted keys then say nothing), and on request
    (`--vars '{snapshots_compare_every_row: true}'`).
#}
{% macro default__snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {%- set changed = snapshot_changed_keys(strategy, source_sql, target_relation) -%}
    {%- if changed is none -%}
        {{ dbt.default__snapshot_staging_table(strategy, source_sql, target_relation) }}
    {%- else -%}
        {{ dbt.default__snapshot_staging_table(strategy, changed.source_sql, changed.snapshotted) }}
    {%- endif -%}
{%- endmacro %}

{# The narrowed source and snapshotted rows, or none where the whole comparison must run. #}
{% macro snapshot_changed_keys(strategy, source_sql, target_relation) -%}
    {%- set declared = (config.get('meta') or {}).get('changed_keys') -%}
    {%- set key = strategy.unique_key -%}
    {%- if not execute or not declared or var('snapshots_compare_every_row', false)
            or key is not string -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set held = adapter.get_columns_in_relation(target_relation)
        | map(attribute='name') | map('lower') | list -%}
    {%- set deleted = relation_of_model(declared.deleted_keys) -%}
    {%- if '_built_at' not in held or deleted is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set newest = run_query("select max(_built_at) from " ~ target_relation).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set since = "cast('" ~ newest ~ "' as " ~ dbt.type_timestamp() ~ ")" -%}
    {%- if reloaded_since(deleted, since) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set keys -%}
        select source_rows.{{ key }} from ({{ source_sql }}) as source_rows
        where source_rows._built_at > {{ since }}
        union
        select gone.{{ key }} from {{ deleted }} as gone
        where not gone.is_reload and gone._completed_at > {{ since }}
    {%- endset -%}
    {#- A view (dbt renders this macro twice per run): its rows are computed once, in the
        comparison. -#}
    {%- set snapshotted = changed_rows_relation(target_relation) -%}
    {%- do adapter.drop_relation(snapshotted) -%}
    {%- do run_query(create_view_as(snapshotted,
        "select * from " ~ target_relation ~ " where " ~ key ~ " in (" ~ keys ~ ")")) -%}
    {%- set narrowed_source -%}
        select * from ({{ source_sql }}) as source_rows
        where {{ key }} in ({{ keys }})
    {%- endset -%}
    {{ return({'source_sql': narrowed_source, 'snapshotted': snapshotted}) }}
{%- endmacro %}

{# The view of a snapshot's rows whose key changed, beside it. #}
{% macro changed_rows_relation(snapshot) -%}
    {{ return(api.Relation.create(
        database=snapshot.database, schema=snapshot.schema,
        identifier=snapshot.identifier ~ '__changed_rows', type='view')) }}
{%- endmacro %}

{# Post-hook of every snapshot: the view of the changed keys' rows served its one run. #}
{% macro drop_snapshot_changed_keys() -%}
    {%- do adapter.drop_relation(changed_rows_relation(this)) -%}
    select 1 as changed_rows_dropped
{%- endmacro %}

{#
    The built relation of a model named in a config (a meta value cannot be a ref), or none
    before its first build.
#}
{% macro relation_of_model(name) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == name -%}
        {{ return(adapter.get_relation(node.database, node.schema, node.alias)) }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}
