{#
    The identity rule's pieces (doc block identity), one place for the shop's customers and
    HubSpot's contacts, which are matched on them.
#}

{#
    A person's email as staging keeps it: trimmed and lower-cased (`email_normalized`), and
    whether it is a plausible address (`has_valid_email`).
#}
{% macro email_columns(column='email') -%}
    lower(trim({{ column }})) as email_normalized,
    {{ is_valid_email('lower(trim(' ~ column ~ '))') }} as has_valid_email
{%- endmacro %}

{#
    A shop customer's key for the person (doc block identity): the keyed hash of the
    normalised email when it is valid, null otherwise, since only a valid email identifies.
#}
{% macro email_key(email='email_normalized', has_valid_email='has_valid_email') -%}
    case when {{ has_valid_email }} then {{ hash_pii(email) }} end
{%- endmacro %}
