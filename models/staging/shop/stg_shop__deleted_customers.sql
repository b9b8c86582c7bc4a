{{ config(materialized='view', meta={'tested_rows': 'all'}) }}
{#- The keys the shop's loads deleted from customers: the models keyed like it downstream of
    staging delete by them (macro drop_rows_deleted_upstream). -#}

{{ deleted_keys('shop', 'customers', 'customer_id') }}
