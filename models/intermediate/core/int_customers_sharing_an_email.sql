{#- The shop accounts whose valid address another account, live or deleted, also has: the
    accounts dim_customers flags has_duplicate_email, as a list of ids, so that a build can
    check the accounts it holds flagged without matching contacts or hashing addresses. -#}
with

accounts as (

    select
        customer_id,
        email_normalized
    from {{ ref('stg_shop__customers') }}
    where has_valid_email

),

final as (

    select accounts.customer_id
    from accounts
    where exists (
        select 1
        from accounts as other_accounts
        where
            other_accounts.email_normalized = accounts.email_normalized
            and other_accounts.customer_id != accounts.customer_id
    )

)

select * from final
