{#-
    The data-quality rules, one row per rule, generated from their declaration (macro dq_rules):
    the defect of docs/spec.md §2 each detects, where, what the warehouse does about it, its test
    severity and the failure rate it tolerates.
-#}
{{ dq_rule_rows() }}
