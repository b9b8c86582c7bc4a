{#
    Rows of a raw table written by loads that completed. dlt stamps every row with the load
    id and records the load in _dlt_loads (status 0 = done) only once the whole package is in:
    rows of an interrupted load are never read.
#}
{% macro completed_loads_only(source_name) -%}
    _dlt_load_id in (
        select load_id from {{ source(source_name, '_dlt_loads') }} where status = 0
    )
{%- endmacro %}

{# When dlt wrote the row: the load id is the load's start, in epoch seconds. #}
{% macro load_timestamp(column='_dlt_load_id') -%}
    {{ epoch_seconds_to_timestamp('cast(' ~ column ~ ' as double)') }}
{%- endmacro %}
