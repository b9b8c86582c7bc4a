{#
    The records a data-quality rule (macro dq_rules) quarantined, as keys
    and reasons only: never the values themselves, so no PII reaches test_failures. Warns by
    default: a value outside its domain is a fact to flag, the marts still publish it. The rule's
    rate against its tolerance is tested on dq_rule_results.
#}
{% test dq_rule(model, rule, column_name=none) %}
{{ config(severity='warn') }}

select
    issues.record_key,
    issues.reason
from {{ ref('dq_issues') }} as issues
where issues.rule_name = '{{ rule }}'

{% endtest %}
