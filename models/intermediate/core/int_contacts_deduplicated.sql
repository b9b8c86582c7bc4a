{#- One HubSpot contact per person: see the doc block identity. -#}
with

contacts as (

    select
        contact_id,
        email_normalized,
        lifecycle_stage,
        is_email_opted_out,
        updated_at
    from {{ ref('stg_hubspot__contacts') }}
    where not is_archived and has_valid_email

),

ranked as (

    select
        *,
        row_number() over (
            partition by email_normalized
            -- HubSpot ids are numeric strings: "the highest id" compares them as numbers.
            order by updated_at desc, cast(contact_id as bigint) desc
        ) as recency_rank,
        count(*) over (partition by email_normalized) as contacts_with_email
    from contacts

),

final as (

    select
        contact_id,
        email_normalized,
        lifecycle_stage,
        is_email_opted_out,
        updated_at as contact_updated_at,
        contacts_with_email
    from ranked
    where recency_rank = 1

)

select * from final
