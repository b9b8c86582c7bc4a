{#-
    The quarantine: one row per record breaking a data-quality rule (macro dq_rules), with the
    rule, the reason, the record's key and the load that brought it. Nothing defective is
    silently counted: each record here is corrected, excluded or flagged in the marts as its
    rule says, and the rates are reported in dq_rule_results.
-#}
with

issues as (
    {{ dq_issue_rows() }}
),

rules as (

    select
        rule_name,
        source_name,
        table_name,
        action,
        severity
    from {{ ref('dq_rules') }}

),

final as (

    select
        {{ surrogate_key(['issues.rule_name', 'issues.record_key']) }} as issue_id,
        issues.rule_name,
        rules.source_name,
        rules.table_name,
        issues.record_key,
        issues.reason,
        rules.action,
        rules.severity,
        issues._load_id as load_id,
        {{ run_timestamp() }} as detected_at
    from issues
    inner join rules
        on issues.rule_name = rules.rule_name

)

select * from final
