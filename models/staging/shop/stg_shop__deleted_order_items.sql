{{ config(materialized='view', meta={'tested_rows': 'all'}) }}
{#- The keys the shop's loads deleted from order_items (raw_shop._deleted_order_items, appended by the
    deleting load itself), from completed loads only, and one row per load that replaced the
    table (is_reload, order_item_id null). The models keyed like order_items downstream of staging delete
    by them (macro drop_rows_deleted_upstream) instead of comparing themselves with staging. -#}

select
    deleted.order_item_id,
    coalesce(deleted._reloaded, false) as is_reload,
    deleted._dlt_load_id as _load_id,
    {{ to_utc_timestamp('loads.inserted_at') }} as _completed_at
from {{ source('shop', '_deleted_order_items') }} as deleted
inner join {{ source('shop', '_dlt_loads') }} as loads
    on deleted._dlt_load_id = loads.load_id
where loads.status = 0
