{#- Stock per product across all warehouses. -#}
with

inventory_levels as (

    select
        product_id,
        quantity_on_hand,
        quantity_reserved,
        quantity_available
    from {{ ref('stg_catalog__inventory_levels') }}

),

final as (

    select
        product_id,
        sum(quantity_on_hand) as quantity_on_hand,
        sum(quantity_reserved) as quantity_reserved,
        sum(quantity_available) as quantity_available,
        count(*) as warehouse_count
    from inventory_levels
    group by 1

)

select * from final
