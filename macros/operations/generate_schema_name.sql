{#
    Dev and prod build into the folder's schema as named (staging, marts, ...). Any other
    schema (a pull request's, DBT_SCHEMA=pr_123) prefixes it, so builds never collide.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set base = target.schema | trim -%}
    {%- if custom_schema_name is none -%}
        {{ base }}
    {%- elif base | lower in ('main', 'analytics') or target.name == 'prod' -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ base }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
