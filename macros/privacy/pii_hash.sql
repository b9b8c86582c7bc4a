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
