{{ config(
    unique_key='order_id',
    pre_hook="{{ drop_rows_the_source_deleted('shop', 'orders', 'order_id') }}"
) }}

-- depends_on: {{ source('shop', '_deleted_orders') }}

with

source as (

    select * from {{ source('shop', 'orders') }}
    where {{ completed_loads_only('shop') }}

),

renamed as (

    select
        order_id,
        {{ typed('customer_id', 'bigint') }} as customer_id,
        status as order_status,
        currency as currency_code,
        {{ typed('subtotal', 'decimal(12, 2)') }} as subtotal,
        {{ typed('discount_amount', 'decimal(12, 2)') }} as discount_amount,
        {{ typed('shipping_amount', 'decimal(12, 2)') }} as shipping_amount,
        {{ typed('tax_amount', 'decimal(12, 2)') }} as tax_amount,
        {{ typed('total_amount', 'decimal(12, 2)') }} as total_amount,
        channel,
        nullif(trim(utm_source), '') as utm_source,
        nullif(trim(utm_campaign), '') as utm_campaign,
        lower(nullif(trim(utm_campaign), '')) as utm_campaign_normalized,
        -- The shop's own arithmetic, broken on some rows (docs/spec.md §2): flagged, never "fixed".
        {{ typed('total_amount', 'decimal(12, 2)') }} != {{ typed('subtotal', 'decimal(12, 2)') }}
        - {{ typed('discount_amount', 'decimal(12, 2)') }} + {{ typed('shipping_amount', 'decimal(12, 2)') }}
        + {{ typed('tax_amount', 'decimal(12, 2)') }} as has_total_mismatch,
        {{ to_utc_timestamp('placed_at') }} as placed_at,
        cast({{ to_utc_timestamp('placed_at') }} as date) as order_date,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ uncastable_columns({
            'customer_id': 'bigint', 'subtotal': 'decimal(12, 2)',
            'discount_amount': 'decimal(12, 2)', 'shipping_amount': 'decimal(12, 2)',
            'tax_amount': 'decimal(12, 2)', 'total_amount': 'decimal(12, 2)'}) }}
            as _uncastable_columns,
        {{ load_columns() }}

    from source

)

select * from renamed
