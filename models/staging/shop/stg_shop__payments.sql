{{ config(
    unique_key='payment_id',
    pre_hook="{{ drop_rows_the_source_deleted('shop', 'payments', 'payment_id') }}"
) }}

-- depends_on: {{ source('shop', '_deleted_payments') }}

with

source as (

    select * from {{ source('shop', 'payments') }}
    where {{ completed_loads_only('shop') }}

),

renamed as (

    select
        payment_id,
        order_id,
        method as payment_method,
        status as payment_status,
        {{ typed('amount', 'decimal(12, 2)') }} as amount,
        currency as currency_code,
        -- Legacy rows held MySQL's zero date here; the loader turned it into NULL.
        {{ to_utc_timestamp('processed_at') }} as processed_at,
        processed_at is null and status != 'authorized' as is_missing_processed_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ uncastable_columns({'amount': 'decimal(12, 2)'}) }} as _uncastable_columns,
        {{ load_columns() }}

    from source

)

select * from renamed
