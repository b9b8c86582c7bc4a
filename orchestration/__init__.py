"""The operating layer: Dagster assets, jobs, a daily schedule, retries, alerts and run history.

`dagster dev` (or `scripts/dagster`) at the repository root loads `orchestration.definitions`.
"""
