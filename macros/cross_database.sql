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


{#
    The keyed hash of a PII value, the marts' stand-in for clear text: HMAC-SHA256 of its UTF-8
    bytes under SHOPSPHERE_PII_KEY, in hex; null stays null. loaders.privacy.pii.keyed_hash gives
    the same in Python. HMAC(k, m) = sha256(opad || sha256(ipad || m)), the pads being the key
    zero-padded to 64 bytes XOR 0x36 (ipad) and XOR 0x5c (opad).
#}
{% macro hash_pii(expression) -%}
    {{ return(adapter.dispatch('hash_pii')(expression)) }}
{%- endmacro %}

{# DuckDB: the pads are session variables set by the dbt-duckdb plugin loaders.privacy.dbt_plugin. #}
{% macro default__hash_pii(expression) -%}
    case when {{ expression }} is not null then
        sha256(
            getvariable('shopsphere_pii_opad')
            || unhex(sha256(getvariable('shopsphere_pii_ipad') || encode({{ expression }})))
        )
    end
{%- endmacro %}

{#
    Snowflake: the pads are hex literals, computed here from the key. Unproven on real
    Snowflake (its documentation calls SHA2's argument a string): whether SHA2 and SHA2_BINARY
    hash a BINARY argument's bytes, as the fakesnow harness does. See docs/privacy.md.
#}
{% macro snowflake__hash_pii(expression) -%}
    {%- set inner, outer = pii_key_pads() -%}
    case when {{ expression }} is not null then
        sha2(
            to_binary('{{ outer }}', 'HEX')
            || sha2_binary(to_binary('{{ inner }}', 'HEX') || to_binary({{ expression }}, 'UTF-8'))
        , 256)
    end
{%- endmacro %}

{# The key's inner and outer HMAC pads in hex (as loaders.privacy.pii.pads). #}
{% macro pii_key_pads() -%}
    {%- set key = env_var('SHOPSPHERE_PII_KEY', '') | trim | lower -%}
    {%- if not modules.re.fullmatch('([0-9a-f]{2}){16,64}', key) -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "SHOPSPHERE_PII_KEY: expected an even number of hex digits, 32 to 128"
                ~ " (make one with: openssl rand -hex 32)") }}
        {%- endif -%}
        {%- set key = '' -%}
    {%- endif -%}
    {%- set digits = '0123456789abcdef' -%}
    {%- set padded = key ~ ('0' * (128 - key | length)) -%}
    {%- set pads = namespace(inner='', outer='') -%}
    {%- for i in range(128) -%}
        {%- set nibble = digits.index(padded[i]) -%}
        {%- set pads.inner = pads.inner ~ digits[xor_nibble(nibble, 3 if i % 2 == 0 else 6)] -%}
        {%- set pads.outer = pads.outer ~ digits[xor_nibble(nibble, 5 if i % 2 == 0 else 12)] -%}
    {%- endfor -%}
    {{ return((pads.inner, pads.outer)) }}
{%- endmacro %}

{% macro xor_nibble(a, b) -%}
    {%- set result = namespace(value=0) -%}
    {%- for bit in [8, 4, 2, 1] if (a // bit) % 2 != (b // bit) % 2 -%}
        {%- set result.value = result.value + bit -%}
    {%- endfor -%}
    {{ return(result.value) }}
{%- endmacro %}


{#
    on-run-start: a build on any target but the local dev and CI ones (var pii_dev_targets)
    refuses to start without SHOPSPHERE_PII_KEY; on DuckDB, without the plugin's pads.
#}
{% macro require_pii_key() -%}
    {%- if execute -%}
        {%- if target.name not in var('pii_dev_targets')
            and env_var('SHOPSPHERE_PII_KEY', '') | trim == '' -%}
            {{ exceptions.raise_compiler_error(
                "SHOPSPHERE_PII_KEY is not set: target '" ~ target.name
                ~ "' refuses to build without the PII key (docs/privacy.md)") }}
        {%- endif -%}
        {%- if target.type == 'duckdb' -%}
            {%- set loaded = run_query(
                "select getvariable('shopsphere_pii_ipad') is not null") -%}
            {%- if not loaded.columns[0].values()[0] -%}
                {{ exceptions.raise_compiler_error(
                    "target '" ~ target.name ~ "' has no PII key: its profile lacks the plugin"
                    ~ " loaders.privacy.dbt_plugin (see profiles.yml)") }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    select 1
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
