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
    Post-hook of an incremental staging model: drop the rows whose key raw no longer holds (a
    hard delete the loaders applied, or a table reloaded without them). `key` names the model's
    key columns, `raw_key` raw's (default the same).
#}
{% macro drop_rows_gone_from_raw(raw_table, key, raw_key=none) -%}
    {%- set keys = [key] if key is string else key -%}
    {%- set raw_keys = keys if raw_key is none else ([raw_key] if raw_key is string else raw_key) -%}
    delete from {{ this }}
    where {{ key_tuple(keys) }} not in (
        select {{ key_tuple(raw_keys) }} from {{ raw_table }}
    )
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
