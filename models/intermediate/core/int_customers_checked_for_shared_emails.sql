{#- Whether another account (live or deleted) has the same valid address: the duplicate flag
    of dim_customers, checked per customer without reading every account's group, so that a
    query asking for a few customers pays for those few. -#}
with

accounts as (

    select
        customer_id,
        email_normalized,
        has_valid_email
    from {{ ref('stg_shop__customers') }}

),

final as (

    select
        accounts.customer_id,
        accounts.has_valid_email
        and exists (
            select 1
            from accounts as other_accounts
            where
                other_accounts.has_valid_email
                and other_accounts.email_normalized = accounts.email_normalized
                and other_accounts.customer_id != accounts.customer_id
        ) as has_duplicate_email
    from accounts

)

select * from final
