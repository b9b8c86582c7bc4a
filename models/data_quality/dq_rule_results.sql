{#- One row per data-quality rule (macro dq_rules): rows checked, rows failing and the rate, as of this build. -#}
with

rules as (

    select
        rule_name,
        source_name,
        table_name,
        action,
        severity,
        max_failure_rate
    from {{ ref('dq_rules') }}

),

issues as (

    select rule_name
    from {{ ref('dq_issues') }}

),

-- What each rule looks at: its denominator (a rule may span models: summed below).
checked_by_model as (
    {{ dq_checked_rows() }}
),

checked as (

    select
        rule_name,
        sum(rows_checked) as rows_checked
    from checked_by_model
    group by 1

),

failing as (

    select
        rule_name,
        count(*) as rows_failing
    from issues
    group by 1

),

final as (

    select
        rules.rule_name,
        rules.source_name,
        rules.table_name,
        rules.action,
        rules.severity,
        cast(coalesce(checked.rows_checked, 0) as bigint) as rows_checked,
        cast(coalesce(failing.rows_failing, 0) as bigint) as rows_failing,
        cast(
            coalesce({{ safe_divide('coalesce(failing.rows_failing, 0)', 'checked.rows_checked') }}, 0)
            as decimal(9, 6)
        ) as failure_rate,
        rules.max_failure_rate,
        {{ run_timestamp() }} as checked_at,
        '{{ invocation_id }}' as invocation_id
    from rules
    left join checked
        on rules.rule_name = checked.rule_name
    left join failing
        on rules.rule_name = failing.rule_name

)

select * from final
