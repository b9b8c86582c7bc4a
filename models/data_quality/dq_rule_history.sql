{{ config(materialized='incremental', unique_key=['invocation_id', 'rule_name']) }}
{#- One row per data-quality rule and build: the trend of the rates, run after run. -#}

with

results as (

    select
        invocation_id,
        rule_name,
        source_name,
        table_name,
        rows_checked,
        rows_failing,
        failure_rate,
        checked_at
    from {{ ref('dq_rule_results') }}

),

final as (

    select
        {{ surrogate_key(['invocation_id', 'rule_name']) }} as rule_check_id,
        *
    from results

)

select * from final
