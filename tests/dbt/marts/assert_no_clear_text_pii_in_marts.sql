{#- No column that holds clear-text PII may reach the marts schema. -#}
select
    table_name,
    column_name
from information_schema.columns
where
    lower(table_schema) = lower('{{ ref("dim_customers").schema }}')
    and lower(column_name) in (
        'email', 'email_normalized', 'first_name', 'last_name', 'firstname', 'lastname',
        'phone', 'city', 'recipient_email', 'address'
    )
