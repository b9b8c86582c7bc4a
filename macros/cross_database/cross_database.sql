{# Warehouse differences live here, one dispatch per difference (default, duckdb, snowflake). #}

{% macro epoch_seconds_to_timestamp(expression) -%}
    {{ return(adapter.dispatch('epoch_seconds_to_timestamp')(expression)) }}
{%- endmacro %}

{% macro default__epoch_seconds_to_timestamp(expression) -%}
    to_timestamp({{ expression }})
{%- endmacro %}

{% macro snowflake__epoch_seconds_to_timestamp(expression) -%}
    to_timestamp_ntz({{ expression }})
{%- endmacro %}

{% macro duckdb__epoch_seconds_to_timestamp(expression) -%}
    cast(to_timestamp({{ expression }}) as timestamp)
{%- endmacro %}


{% macro epoch_ms_to_timestamp(expression) -%}
    {{ return(adapter.dispatch('epoch_ms_to_timestamp')(expression)) }}
{%- endmacro %}

{% macro default__epoch_ms_to_timestamp(expression) -%}
    {{ epoch_seconds_to_timestamp('(' ~ expression ~ ') / 1000.0') }}
{%- endmacro %}

{# Scale 3: integer milliseconds, exact (no float seconds in between). #}
{% macro snowflake__epoch_ms_to_timestamp(expression) -%}
    to_timestamp_ntz(cast({{ expression }} as bigint), 3)
{%- endmacro %}


{# A timestamp in UTC without time zone (the marts' convention). #}
{% macro to_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('to_utc_timestamp')(expression)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(expression) -%}
    cast({{ expression }} as timestamp)
{%- endmacro %}

{% macro snowflake__to_utc_timestamp(expression) -%}
    convert_timezone('UTC', {{ expression }})::timestamp_ntz
{%- endmacro %}


{# HubSpot sends ISO 8601 strings ("2024-03-21T00:10:41.547Z") and dates ("2025-04-01"). #}
{% macro iso_to_timestamp(expression) -%}
    {{ return(adapter.dispatch('iso_to_timestamp')(expression)) }}
{%- endmacro %}

{% macro default__iso_to_timestamp(expression) -%}
    cast(cast(nullif({{ expression }}, '') as timestamp with time zone) as timestamp)
{%- endmacro %}

{% macro snowflake__iso_to_timestamp(expression) -%}
    convert_timezone('UTC', try_to_timestamp_tz(nullif({{ expression }}, '')))::timestamp_ntz
{%- endmacro %}


{# 'true' / 'false' strings (HubSpot booleans) to a boolean; anything else is null. #}
{% macro text_to_boolean(expression) -%}
    case lower(trim({{ expression }})) when 'true' then true when 'false' then false end
{%- endmacro %}


{# Whether an address is a plausible email: one @, no spaces, a dot in the domain. #}
{% macro is_valid_email(expression) -%}
    {{ return(adapter.dispatch('is_valid_email')(expression)) }}
{%- endmacro %}

{% macro default__is_valid_email(expression) -%}
    coalesce(regexp_matches({{ expression }}, '^[^@\s]+@[^@\s]+\.[^@\s]+$'), false)
{%- endmacro %}

{% macro snowflake__is_valid_email(expression) -%}
    coalesce(regexp_like({{ expression }}, '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'), false)
{%- endmacro %}


{# Elements of a JSON array of strings, one row per element: `from <cte> <json_array_rows>`. #}
{% macro json_array_rows(column, alias='element') -%}
    {{ return(adapter.dispatch('json_array_rows')(column, alias)) }}
{%- endmacro %}

{% macro default__json_array_rows(column, alias) -%}
    cross join unnest(cast(json({{ column }}) as varchar[])) as {{ alias }}_rows ({{ alias }})
{%- endmacro %}

{% macro snowflake__json_array_rows(column, alias) -%}
    , lateral flatten(input => parse_json({{ column }})) as {{ alias }}_rows
{%- endmacro %}

{% macro json_array_value(alias='element') -%}
    {{ return(adapter.dispatch('json_array_value')(alias)) }}
{%- endmacro %}

{% macro default__json_array_value(alias) -%}
    {{ alias }}_rows.{{ alias }}
{%- endmacro %}

{% macro snowflake__json_array_value(alias) -%}
    {{ alias }}_rows.value::varchar
{%- endmacro %}


{# A deterministic key from several columns (no dbt_utils here: there is no package hub). #}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '~null~')") -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}


{# num / den, null when den is 0 or null. #}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif({{ denominator }}, 0)
{%- endmacro %}


{# Whether a value matches a regular expression. #}
{% macro regex_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_matches')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(expression, pattern) -%}
    coalesce(regexp_full_match({{ expression }}, '{{ pattern }}'), false)
{%- endmacro %}

{% macro snowflake__regex_matches(expression, pattern) -%}
    coalesce(regexp_like({{ expression }}, '{{ pattern }}'), false)
{%- endmacro %}


{#
    Now, in UTC without time zone: what "in the future" and "lapsed" are measured against. The
    var `as_of` ('2026-11-21 00:00:00', UTC) pins it, for a reproducible rebuild of a past day.
#}
{% macro run_timestamp() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as timestamp)
    {%- else -%}
        {{ to_utc_timestamp(dbt.current_timestamp()) }}
    {%- endif -%}
{%- endmacro %}


{#
    A raw column read as the type staging promises, whatever raw holds since a type drift (an
    INT that became VARCHAR in the source, reloaded with --full-refresh): a value that does not
    cast becomes NULL, and `uncastable_columns` names it for the quarantine. Never a build error.
#}
{% macro typed(expression, type) -%}
    {{ return(adapter.dispatch('typed')(expression, type)) }}
{%- endmacro %}

{% macro default__typed(expression, type) -%}
    try_cast({{ expression }} as {{ type }})
{%- endmacro %}

{# Snowflake's TRY_CAST takes text only. #}
{% macro snowflake__typed(expression, type) -%}
    try_cast(to_varchar({{ expression }}) as {{ type }})
{%- endmacro %}


{#
    The names of the columns (a dict of column: type) whose raw value is present but did not
    cast with `typed`, space-separated; null when every value cast. Staging keeps it as
    `_uncastable_columns`, and the rule uncastable_value quarantines the rows.
#}
{% macro uncastable_columns(columns) -%}
    nullif(trim(
        {%- for name, type in columns.items() %}
        coalesce(case when {{ name }} is not null and {{ typed(name, type) }} is null then '{{ name }} ' end, '')
        {%- if not loop.last %} ||{% endif %}
        {%- endfor %}
    ), '')
{%- endmacro %}
