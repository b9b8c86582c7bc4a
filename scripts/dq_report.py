"""The data-quality report of the last build, as the quickstart and the benchmarks print it."""

from __future__ import annotations

import duckdb


def print_dq_report(con: duckdb.DuckDBPyConnection, indent: str = "", digits: int = 2) -> None:
    """One line per rule of data_quality.dq_rule_results: checked, failing, rate, tolerated max."""
    rules = con.execute(
        """select rule_name, severity, rows_checked, rows_failing, failure_rate, max_failure_rate
           from data_quality.dq_rule_results order by source_name, table_name, rule_name"""
    ).fetchall()
    print(
        f"{indent}{'data-quality rule':<26}{'severity':>9}{'checked':>12}{'failing':>10}"
        f"{'rate':>10}{'max':>8}"
    )
    for rule, severity, checked, failing, rate, max_rate in rules:
        print(
            f"{indent}{rule:<26}{severity:>9}{checked:>12,}{failing:>10,}"
            f"{float(rate):>10.{digits}%}{float(max_rate):>8.0%}"
        )
