{#- One row per version of a product's stock in a warehouse (from the snapshot). -#}
with

versions as (

    select
        dbt_scd_id,
        inventory_level_id,
        product_id,
        warehouse_code,
        quantity_on_hand,
        quantity_reserved,
        dbt_valid_from,
        dbt_valid_to,
        dbt_is_deleted
    from {{ ref('snap_inventory_levels') }}

),

final as (

    select
        cast(dbt_scd_id as varchar) as inventory_level_version_id,
        cast(inventory_level_id as varchar) as inventory_level_id,
        cast(product_id as bigint) as product_id,
        cast(warehouse_code as varchar) as warehouse_code,
        cast(quantity_on_hand as integer) as quantity_on_hand,
        cast(quantity_reserved as integer) as quantity_reserved,
        cast(dbt_valid_from as timestamp) as valid_from,
        cast(dbt_valid_to as timestamp) as valid_to,
        cast(dbt_valid_to is null as boolean) as is_current,
        cast(coalesce(cast(dbt_is_deleted as varchar) = 'True', false) as boolean) as is_deleted
    from versions

)

select * from final
