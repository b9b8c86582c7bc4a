{{ config(
    unique_key='category_id',
    pre_hook="{{ drop_rows_the_source_deleted('catalog', 'categories', 'category_id') }}"
) }}

-- depends_on: {{ source('catalog', '_deleted_categories') }}

with

source as (

    select * from {{ source('catalog', 'categories') }}
    where {{ completed_loads_only('catalog') }}

),

renamed as (

    select
        category_id,
        parent_category_id,
        name as category_name,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ load_columns() }}

    from source

)

select * from renamed
