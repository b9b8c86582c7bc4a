{{ config(
    unique_key='product_id',
    pre_hook="{{ drop_rows_the_source_deleted('catalog', 'products', 'product_id') }}"
) }}

-- depends_on: {{ source('catalog', '_deleted_products') }}

with

source as (

    select * from {{ source('catalog', 'products') }}
    where {{ completed_loads_only('catalog') }}

),

renamed as (

    select
        product_id,
        sku,
        name as product_name,
        description as product_description,
        {{ typed('category_id', 'integer') }} as category_id,
        nullif(trim(brand), '') as brand,
        {{ typed('list_price', 'decimal(12, 2)') }} as list_price,
        {{ typed('cost_price', 'decimal(12, 2)') }} as cost_price,
        currency as currency_code,
        attributes as product_attributes,
        is_active,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ uncastable_columns({
            'category_id': 'integer', 'list_price': 'decimal(12, 2)',
            'cost_price': 'decimal(12, 2)'}) }}
            as _uncastable_columns,
        {{ load_columns() }}

    from source

)

select * from renamed
