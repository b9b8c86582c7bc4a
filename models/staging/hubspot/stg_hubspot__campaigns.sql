{{ config(
    unique_key='campaign_id',
    post_hook="{{ drop_rows_gone_from_raw(source('hubspot', 'campaigns'), 'campaign_id', raw_key='id') }}"
) }}

with

source as (

    select * from {{ source('hubspot', 'campaigns') }}
    where {{ completed_loads_only('hubspot') }}

),

renamed as (

    select
        id as campaign_id,
        hs_name as campaign_name,
        hs_utm as utm_campaign,
        lower(trim(hs_utm)) as utm_campaign_normalized,
        hs_campaign_status as campaign_status,
        {{ typed("nullif(hs_start_date, '')", 'date') }} as started_on,
        {{ typed("nullif(hs_end_date, '')", 'date') }} as ended_on,
        {{ typed("nullif(hs_budget_items_sum_amount, '')", 'decimal(18, 2)') }} as budget_amount,
        hs_currency_code as currency_code,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ load_columns() }}

    from source

)

select * from renamed
