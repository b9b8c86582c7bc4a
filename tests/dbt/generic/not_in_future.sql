{# Timestamps later than now (plus a tolerance in minutes for clocks that drift). #}
{% test not_in_future(model, column_name, tolerance_minutes=5, where=none) %}

select *
from {{ model }}
where {{ column_name }} > {{ dbt.dateadd('minute', tolerance_minutes, dbt.current_timestamp()) }}
    {%- if where %} and ({{ where }}){% endif %}

{% endtest %}
