{#
    Failing rows of data tests are stored in schema test_failures for triage (store_failures).
    dbt's own not_null stores whole rows, and unique the duplicated values: on a model with
    PII that puts clear-text emails, names or phone numbers in test_failures. These overrides
    store only what the triage needs: the null column itself; a duplicated value, hashed when
    the column is PII (var pii_columns, the columns staging keeps in clear).
#}
{% macro default__test_not_null(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is null

{% endmacro %}


{% macro default__test_unique(model, column_name) %}

select
    {% if column_name in var('pii_columns') -%}
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
