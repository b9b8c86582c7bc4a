{#
    Rows of a raw table written by loads that completed. dlt stamps every row with the load
    id and records the load in _dlt_loads (status 0 = done) only once the whole package is in:
    rows of an interrupted load are never read.

    In an incremental staging model, only the loads completed after the newest load whose rows
    the model holds: a day's build reads the day's rows, not history. Raw holds one row per key
    (dlt merges), so reading a load's rows again is harmless: the watermark may lag, never skip.
#}
{% macro completed_loads_only(source_name) -%}
    _dlt_load_id in (
        select loads.load_id from {{ source(source_name, '_dlt_loads') }} as loads
        where loads.status = 0
        {%- if is_incremental() %}
            and loads.inserted_at > (
                select coalesce(max(held.inserted_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
                from {{ source(source_name, '_dlt_loads') }} as held
                where held.load_id in (select distinct staged._load_id from {{ this }} as staged)
            )
        {%- endif %}
    )
{%- endmacro %}

{# The columns every staging model ends with: the load that wrote the row, when, and the build. #}
{% macro load_columns() -%}
    _dlt_load_id as _load_id,
    {{ load_timestamp() }} as _loaded_at,
    {{ built_at() }} as _built_at
{%- endmacro %}

{# When dlt wrote the row: the load id is the load's start, in epoch seconds. #}
{% macro load_timestamp(column='_dlt_load_id') -%}
    {{ epoch_seconds_to_timestamp('cast(' ~ column ~ ' as double)') }}
{%- endmacro %}

{#
    Pre-hook of an incremental staging model of a SQL source: drop the rows the source deleted,
    by key. The loaders append the keys each load deleted to raw's `_deleted_<table>`, in the
    load's own package, so this reads the deletions, not the table: a row goes when a completed
    load deleted its key after the load the row came from (a key deleted and inserted again
    stays, and applying a deletion twice changes nothing). A load that replaced the whole table
    (a full refresh, a backfill, a first copy from the change stream) leaves a `_reloaded` row:
    until the model holds a row of that load or a later one, it is compared with raw instead.
    Load ids are compared as text: dlt's are epoch seconds with ten digits before the point.
    `key` names the model's key columns (the same in raw).
#}
{% macro drop_rows_the_source_deleted(source_name, table_name, key) -%}
    {%- set keys = [key] if key is string else key -%}
    {%- if is_incremental() -%}
        {%- set raw_table = source(source_name, table_name) -%}
        {%- set deleted = source(source_name, '_deleted_' ~ table_name) -%}
        {%- set completed -%}
            select loads.load_id from {{ source(source_name, '_dlt_loads') }} as loads where loads.status = 0
        {%- endset -%}
        {%- set reloaded = false -%}
        {%- if execute -%}
            {%- set newest = run_query(
                "select max(_dlt_load_id) from " ~ deleted ~ " where _reloaded"
                ~ " and _dlt_load_id in (" ~ completed ~ ")"
            ).columns[0].values()[0] -%}
            {%- if newest is not none -%}
                {%- set held = run_query(
                    "select count(*) from (select 1 from " ~ this ~ " where _load_id >= '"
                    ~ newest ~ "' limit 1) as newer"
                ).columns[0].values()[0] -%}
                {%- set reloaded = held == 0 -%}
            {%- endif -%}
        {%- endif -%}
        {%- if reloaded -%}
            delete from {{ this }}
            where {{ key_tuple(keys) }} not in (select {{ key_tuple(keys) }} from {{ raw_table }})
        {%- else -%}
            {#- A join, not a correlated subquery (which DuckDB runs over every held row). -#}
            delete from {{ this }} as held
            using {{ deleted }} as gone
            where not gone._reloaded
                {%- for column in keys %}
                and gone.{{ column }} = held.{{ column }}
                {%- endfor %}
                and gone._dlt_load_id > held._load_id
                and gone._dlt_load_id in ({{ completed }})
        {%- endif -%}
    {%- else -%}
        select 1 as nothing_to_drop
    {%- endif -%}
{%- endmacro %}

{#
    The body of a staging view of a table's deleted keys (stg_<source>__deleted_<table>): the
    keys the loads deleted (raw's `_deleted_<table>`), from completed loads only, with the load
    and when it completed, and one row per load that replaced the table (is_reload, key null).
    `key_sql` computes a key raw does not hold (a surrogate of raw's key columns).
#}
{% macro deleted_keys(source_name, table_name, key, key_sql=none) -%}
select
    {% if key_sql is none -%}
    deleted.{{ key }},
    {%- else -%}
    case when not coalesce(deleted._reloaded, false) then {{ key_sql }} end as {{ key }},
    {%- endif %}
    coalesce(deleted._reloaded, false) as is_reload,
    deleted._dlt_load_id as _load_id,
    {{ to_utc_timestamp('loads.inserted_at') }} as _completed_at
from {{ source(source_name, '_deleted_' ~ table_name) }} as deleted
inner join {{ source(source_name, '_dlt_loads') }} as loads
    on deleted._dlt_load_id = loads.load_id
where loads.status = 0
{%- endmacro %}

{#
    Pre-hook of an incremental model downstream of staging, keyed like a shop table (`key` in
    `parent`, a staging model): drop the rows whose key a load deleted (`deleted`, the staging
    view of that table's deleted keys) and `parent` no longer holds. Deleted keys are few, so
    this reads them and probes the two tables' key columns; it never compares the two tables
    whole, but once after a load that replaced the table (staging then compared itself with
    raw), completed after the model's last build started.
#}
{% macro drop_rows_deleted_upstream(parent, deleted, key) -%}
    {%- if is_incremental() -%}
        {%- if reloaded_since(deleted, last_built_at(this)) -%}
            delete from {{ this }} where {{ key }} not in (select {{ key }} from {{ parent }})
        {%- else -%}
            delete from {{ this }}
            where {{ key }} in (
                select gone.{{ key }} from {{ deleted }} as gone
                where not gone.is_reload
                    and gone.{{ key }} not in (
                        select kept.{{ key }} from {{ parent }} as kept
                        where kept.{{ key }} in (
                            select again.{{ key }} from {{ deleted }} as again
                            where not again.is_reload
                        )
                    )
            )
        {%- endif -%}
    {%- else -%}
        select 1 as nothing_to_drop
    {%- endif -%}
{%- endmacro %}

{#
    Post-hook of an incremental staging model of HubSpot: drop the rows whose key raw no longer
    holds. HubSpot archives and never hard-deletes, so rows leave raw only when a load replaces
    the table (a first load, a full refresh); then raw's oldest load is newer than the oldest
    row the model holds (every key raw keeps was rewritten by it), and the model is compared
    with raw. Otherwise the two oldest loads agree and nothing is compared: two minimums, not
    an anti-join over the table. `key` names the model's key columns, `raw_key` raw's (default
    the same).
#}
{% macro drop_rows_gone_from_raw(raw_table, key, raw_key=none) -%}
    {%- set keys = [key] if key is string else key -%}
    {%- set raw_keys = keys if raw_key is none else ([raw_key] if raw_key is string else raw_key) -%}
    {%- set compare = true -%}
    {%- if execute and is_incremental() -%}
        {%- set found = run_query(
            "select (select min(cast(_dlt_load_id as double)) from " ~ raw_table ~ ")"
            ~ " > (select min(cast(_load_id as double)) from " ~ this ~ ")"
        ) -%}
        {%- set compare = found.columns[0].values()[0] is not false -%}
    {%- endif -%}
    {%- if compare -%}
    delete from {{ this }}
    where {{ key_tuple(keys) }} not in (
        select {{ key_tuple(raw_keys) }} from {{ raw_table }}
    )
    {%- else -%}
    select 1 as nothing_to_drop
    {%- endif -%}
{%- endmacro %}

{# One comparable value for a key of one or more columns. #}
{% macro key_tuple(columns) -%}
    {%- if columns | length == 1 -%}
        {{ columns[0] }}
    {%- else -%}
        {%- for column in columns -%}
            cast({{ column }} as {{ dbt.type_string() }}){% if not loop.last %} || '|' || {% endif %}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#
    Whether a load replaced the table behind `deleted` (a staging view of a table's deleted
    keys) after `since` (a SQL timestamp expression): its deleted keys then say nothing about
    what left the table, and a caller compares whole tables instead. False at parse time.
#}
{% macro reloaded_since(deleted, since) -%}
    {{ return(reloaded_among([deleted], since) | length > 0) }}
{%- endmacro %}

{#
    Of several views of deleted keys, those whose table a load replaced after `since`, as
    strings, found with one query (a round trip per view costs on a remote warehouse).
#}
{% macro reloaded_among(deleted_views, since) -%}
    {%- if not execute or deleted_views | length == 0 -%}{{ return([]) }}{%- endif -%}
    {%- set query -%}
        {%- for deleted in deleted_views %}
        {% if not loop.first %}union all{% endif %}
        select '{{ deleted }}' as deleted_view from {{ deleted }}
        where is_reload and _completed_at > {{ since }}
        {%- endfor %}
    {%- endset -%}
    {%- set found = run_query("select distinct deleted_view from (" ~ query ~ ") as reloads") -%}
    {{ return(found.columns[0].values() | list) }}
{%- endmacro %}
