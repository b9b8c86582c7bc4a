{#- One row per calendar day from 2020 to 2030. -#}
with

days as (

    {{ dbt.date_spine('day', "cast('2020-01-01' as date)", "cast('2031-01-01' as date)") }}

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
