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


{#
    Pre-hook of dim_customers: drop the accounts staging rewrote as forgotten (deleted_at set)
    since the model's last build. The accounts the shop deleted outright go by their deleted
    keys (drop_rows_deleted_upstream).
#}
{% macro drop_forgotten_customers() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where customer_id in (
            select accounts.customer_id
            from {{ ref('stg_shop__customers') }} as accounts
            where accounts.is_deleted
                and accounts._built_at > (
                    select coalesce(max(held._built_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
                    from {{ this }} as held
                )
        )
    {%- else -%}
        select 1 as nothing_to_drop
    {%- endif -%}
{%- endmacro %}
