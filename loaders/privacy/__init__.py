"""PII declared once in dbt's YAML: the key, where PII lives, the suppression of erased people, and dbt's plugin for the key."""
