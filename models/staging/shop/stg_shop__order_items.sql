{{ config(
    unique_key='order_item_id',
    pre_hook="{{ drop_rows_the_source_deleted('shop', 'order_items', 'order_item_id') }}"
) }}

-- depends_on: {{ source('shop', '_deleted_order_items') }}

with

source as (

    select * from {{ source('shop', 'order_items') }}
    where {{ completed_loads_only('shop') }}

),

renamed as (

    select
        order_item_id,
        order_id,
        {{ typed('product_id', 'bigint') }} as product_id,
        {{ typed('quantity', 'integer') }} as quantity,
        {{ typed('unit_price', 'decimal(12, 2)') }} as unit_price,
        {{ typed('discount_amount', 'decimal(12, 2)') }} as discount_amount,
        {{ typed('quantity', 'integer') }} > 0 as has_positive_quantity,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ uncastable_columns({
            'product_id': 'bigint', 'quantity': 'integer',
            'unit_price': 'decimal(12, 2)', 'discount_amount': 'decimal(12, 2)'}) }}
            as _uncastable_columns,
        {{ load_columns() }}

    from source

)

select * from renamed
