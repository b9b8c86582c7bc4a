{# Rows where a boolean expression does not hold (`where` narrows the rows checked). #}
{% test expression_is_true(model, expression, column_name=none, where=none) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)
    {%- if where %} and ({{ where }}){% endif %}

{% endtest %}
