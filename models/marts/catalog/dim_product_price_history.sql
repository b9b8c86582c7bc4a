{#- One row per version of a product's price (from the snapshot): what it cost when. -#}
with

versions as (

    select
        dbt_scd_id,
        product_id,
        list_price,
        cost_price,
        is_active,
        dbt_valid_from,
        dbt_valid_to,
        dbt_is_deleted
    from {{ ref('snap_product_prices') }}

),

final as (

    select
        cast(dbt_scd_id as varchar) as product_price_version_id,
        cast(product_id as bigint) as product_id,
        cast(list_price as decimal(12, 2)) as list_price,
        cast(cost_price as decimal(12, 2)) as cost_price,
        cast(is_active as boolean) as is_active,
        cast(dbt_valid_from as timestamp) as valid_from,
        cast(dbt_valid_to as timestamp) as valid_to,
        cast(dbt_valid_to is null as boolean) as is_current,
        cast(coalesce(cast(dbt_is_deleted as varchar) = 'True', false) as boolean) as is_deleted,
        cast(
            lag(list_price) over (partition by product_id order by dbt_valid_from) as decimal(12, 2)
        ) as previous_list_price
    from versions

)

select * from final
