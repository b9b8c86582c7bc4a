{{ config(materialized='view', meta={'tested_rows': 'all'}) }}
{#- The keys the catalog's loads deleted from products: the price snapshot compares them
    (macros/incremental/snapshots.sql). -#}

{{ deleted_keys('catalog', 'products', 'product_id') }}
