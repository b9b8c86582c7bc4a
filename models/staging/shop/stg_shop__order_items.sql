with

source as (

    select * from {{ source('shop', 'order_items') }}
    where {{ completed_loads_only('shop') }}

),

renamed as (

    select
        order_item_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        discount_amount,
        quantity > 0 as has_positive_quantity,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        _dlt_load_id as _load_id,
        {{ load_timestamp() }} as _loaded_at

    from source

)

select * from renamed
