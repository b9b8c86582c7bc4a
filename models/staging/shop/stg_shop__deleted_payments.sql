{{ config(materialized='view', meta={'tested_rows': 'all'}) }}
{#- The keys the shop's loads deleted from payments: the quarantine re-examines their issues
    (macro dq_reexamined_issues). -#}

{{ deleted_keys('shop', 'payments', 'payment_id') }}
