{{ config(materialized='view', meta={'tested_rows': 'all'}) }}
{#- The stock rows the catalog's loads deleted, keyed like staging (the surrogate of product and
    warehouse): the stock snapshot compares them (macros/incremental/snapshots.sql). -#}

{{ deleted_keys(
    'catalog', 'inventory_levels', 'inventory_level_id',
    key_sql=surrogate_key(['deleted.product_id', 'deleted.warehouse_code'])
) }}
