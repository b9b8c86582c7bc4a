{# Values that are not plausible email addresses (see the is_valid_email macro). #}
{% test is_valid_email_address(model, column_name) %}

select *
from {{ model }}
where {{ column_name }} is not null
    and not {{ is_valid_email(column_name) }}

{% endtest %}
