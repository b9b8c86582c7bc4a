{#-
    One row per calendar day, from 1 January of the year of the earliest date the shop holds (an
    order placed, an account opened) to 31 December of the year after the latest order or the
    build: every date a fact can carry has its row, however old the history or far ahead the
    clock bug stamps an order.
-#}
{%- set first_day -%}
    (
        select cast({{ dbt.date_trunc('year', 'min(earliest)') }} as date)
        from (
            select min(placed_at) as earliest from {{ ref('stg_shop__orders') }}
            union all
            select min(created_at) as earliest from {{ ref('stg_shop__customers') }}
            union all
            select {{ run_timestamp() }} as earliest
        ) as first_dates
    )
{%- endset -%}
{%- set after_last_day -%}
    (
        select cast({{ dbt.dateadd('year', 2, dbt.date_trunc('year', 'max(latest)')) }} as date)
        from (
            select max(placed_at) as latest from {{ ref('stg_shop__orders') }}
            union all
            select {{ run_timestamp() }} as latest
        ) as last_dates
    )
{%- endset -%}
with

days as (

    {{ dbt.date_spine('day', first_day, after_last_day) }}

),

final as (

    select
        cast({{ dbt.date_trunc('day', 'date_day') }} as date) as date_day,
        cast(extract(year from date_day) as integer) as calendar_year,
        cast(extract(quarter from date_day) as integer) as calendar_quarter,
        cast(extract(month from date_day) as integer) as calendar_month,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast(extract(isodow from date_day) as integer) as iso_day_of_week,
        cast(extract(isodow from date_day) in (6, 7) as boolean) as is_weekend,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start_date,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start_date
    from days

)

select
    cast(
        extract(year from date_day) * 10000 + extract(month from date_day) * 100 + extract(day from date_day)
        as integer
    ) as date_id,
    *
from final
