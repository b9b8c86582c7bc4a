{#- The campaign each utm_campaign value attributes orders to (doc block attribution). -#}
with

campaigns as (

    select
        campaign_id,
        utm_campaign_normalized
    from {{ ref('stg_hubspot__campaigns') }}

),

-- utm values are unique per campaign (tested); should two ever share one, the lowest id wins
-- rather than the order counting twice.
final as (

    select
        utm_campaign_normalized,
        min(campaign_id) as campaign_id
    from campaigns
    where utm_campaign_normalized is not null
    group by 1

)

select * from final
