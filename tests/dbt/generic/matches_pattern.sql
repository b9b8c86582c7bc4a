{# Values of a column matching a regular expression (POSIX, anchored by the caller). #}
{% test matches_pattern(model, column_name, pattern, where=none) %}

select *
from {{ model }}
where {{ column_name }} is not null
    and not {{ regex_matches(column_name, pattern) }}
    {%- if where %} and ({{ where }}){% endif %}

{% endtest %}
