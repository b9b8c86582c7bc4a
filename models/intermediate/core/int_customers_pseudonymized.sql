{#- One row per shop customer without clear-text PII: what the customer snapshot keeps history of.
    `_built_at` is staging's: the snapshot compares the rows staging rewrote since its last run. -#}
with

customers as (

    select
        customer_id,
        email_normalized,
        has_valid_email,
        country_code,
        is_marketing_opted_in,
        is_deleted,
        deleted_at,
        updated_at,
        _built_at
    from {{ ref('stg_shop__customers') }}

),

final as (

    select
        customer_id,
        {{ email_key() }} as email_key,
        country_code,
        is_marketing_opted_in,
        is_deleted,
        deleted_at,
        updated_at,
        _built_at
    from customers

)

select * from final
