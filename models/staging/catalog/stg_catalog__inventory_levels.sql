{{ config(
    unique_key='inventory_level_id',
    pre_hook="{{ drop_rows_the_source_deleted('catalog', 'inventory_levels', ['product_id', 'warehouse_code']) }}"
) }}

-- depends_on: {{ source('catalog', '_deleted_inventory_levels') }}

with

source as (

    select * from {{ source('catalog', 'inventory_levels') }}
    where {{ completed_loads_only('catalog') }}

),

renamed as (

    select
        {{ surrogate_key(['product_id', 'warehouse_code']) }} as inventory_level_id,
        product_id,
        warehouse_code,
        {{ typed('quantity_on_hand', 'integer') }} as quantity_on_hand,
        {{ typed('quantity_reserved', 'integer') }} as quantity_reserved,
        {{ typed('quantity_on_hand', 'integer') }} - {{ typed('quantity_reserved', 'integer') }}
            as quantity_available,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ uncastable_columns({'quantity_on_hand': 'integer', 'quantity_reserved': 'integer'}) }}
            as _uncastable_columns,
        {{ load_columns() }}

    from source

)

select * from renamed
