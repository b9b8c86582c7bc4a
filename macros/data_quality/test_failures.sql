{#
    Failing rows of data tests are stored in schema test_failures for triage (store_failures).
    dbt's own not_null stores whole rows, and unique the duplicated values: on a model with
    PII that puts clear-text emails, names or phone numbers in test_failures. These overrides
    store only what the triage needs: the null column itself; a duplicated value, hashed when
    the column is PII (declared `meta: {pii: ...}` in a source's or a model's YAML).
#}
{% macro default__test_not_null(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is null

{% endmacro %}


{% macro default__test_unique(model, column_name) %}

select
    {% if column_name in pii_columns() -%}
        {{ hash_pii(column_name) }} as unique_field_hash,
    {%- else -%}
        {{ column_name }} as unique_field,
    {%- endif %}
    count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
group by {{ column_name }}
having count(*) > 1

{% endmacro %}


{#
    The names of the columns declared PII anywhere in the project: `meta: {pii: email | name |
    phone | address}` on a column of a source or a model, the one place PII is declared.
#}
{% macro pii_columns() -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for node in (graph.nodes.values() | list) + (graph.sources.values() | list) -%}
            {%- for column in node.columns.values() if column.meta.get('pii') -%}
                {%- do names.append(column.name) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {%- do return(names | unique | list) -%}
{%- endmacro %}
