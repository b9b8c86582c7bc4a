with

source as (

    select * from {{ source('shop', 'orders') }}
    where {{ completed_loads_only('shop') }}

),

renamed as (

    select
        order_id,
        customer_id,
        status as order_status,
        currency as currency_code,
        subtotal,
        discount_amount,
        shipping_amount,
        tax_amount,
        total_amount,
        channel,
        nullif(trim(utm_source), '') as utm_source,
        nullif(trim(utm_campaign), '') as utm_campaign,
        lower(nullif(trim(utm_campaign), '')) as utm_campaign_normalized,
        -- The shop's own arithmetic, broken on some rows (SPEC §2): flagged, never "fixed".
        total_amount != subtotal - discount_amount + shipping_amount + tax_amount as has_total_mismatch,
        {{ to_utc_timestamp('placed_at') }} as placed_at,
        cast({{ to_utc_timestamp('placed_at') }} as date) as order_date,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        _dlt_load_id as _load_id,
        {{ load_timestamp() }} as _loaded_at

    from source

)

select * from renamed
