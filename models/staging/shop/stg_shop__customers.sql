{{ config(
    unique_key='customer_id',
    pre_hook="{{ drop_rows_the_source_deleted('shop', 'customers', 'customer_id') }}"
) }}

-- depends_on: {{ source('shop', '_deleted_customers') }}

with

source as (

    select * from {{ source('shop', 'customers') }}
    where {{ completed_loads_only('shop') }}

),

renamed as (

    select
        customer_id,
        email,
        {{ email_columns('email') }},
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        nullif(trim(phone), '') as phone,
        upper(trim(country_code)) as country_code,
        nullif(trim(city), '') as city,
        marketing_opt_in as is_marketing_opted_in,
        deleted_at is not null as is_deleted,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ to_utc_timestamp('deleted_at') }} as deleted_at,
        {{ load_columns() }}

    from source

)

select * from renamed
