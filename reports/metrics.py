"""Ask the semantic layer: MetricFlow writes the SQL for a metric query from the dbt project's
semantic manifest (`dbt parse` writes it), and the caller runs that SQL on its own connection.

Every figure a consumer shows (the quickstart summary, the report pages) is one of the metrics
declared in `models/marts/*/_*__semantic_models.yml`, so each has exactly one definition.

    layer = SemanticLayer.from_target("target")
    layer.sql(["net_revenue_usd"], group_by=["metric_time__day", "order__channel"])
    layer.query(duckdb_connection, ["valid_orders"])   # -> list of dicts
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from metricflow.engine.metricflow_engine import MetricFlowEngine, MetricFlowQueryRequest
from metricflow.protocols.sql_client import SqlEngine
from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer
from metricflow.sql.render.snowflake import SnowflakeSqlPlanRenderer
from metricflow.sql.render.sql_plan_renderer import SqlPlanRenderer
from metricflow_semantics.model.dbt_manifest_parser import (
    parse_manifest_from_dbt_generated_manifest,
)
from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

DIALECTS: dict[str, tuple[SqlEngine, type[SqlPlanRenderer]]] = {
    "duckdb": (SqlEngine.DUCKDB, DuckDbSqlPlanRenderer),
    "snowflake": (SqlEngine.SNOWFLAKE, SnowflakeSqlPlanRenderer),
}


class MetricsError(RuntimeError):
    """The semantic layer cannot answer: no manifest, an unknown metric or dimension."""


class Cursor(Protocol):
    description: Any

    def fetchall(self) -> list[tuple[Any, ...]]: ...


class Connection(Protocol):
    def execute(self, sql: str) -> Any: ...


class _DialectOnly:
    """MetricFlow needs a SQL client only for its dialect when it explains a query; running the
    SQL is the caller's (so any connection runs it, and nothing here opens one)."""

    def __init__(self, adapter_type: str) -> None:
        try:
            engine, renderer = DIALECTS[adapter_type]
        except KeyError:
            raise MetricsError(
                f"semantic layer: no SQL dialect for dbt adapter {adapter_type!r} "
                f"(known: {', '.join(DIALECTS)})"
            ) from None
        self.sql_engine_type = engine
        self.sql_plan_renderer = renderer()

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise MetricsError("semantic layer: this client only writes SQL; run it on a connection")

    query = execute = dry_run = _refuse

    def close(self) -> None:
        return None

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f":{bind_parameter_key}"


def _one_line(exc: Exception) -> str:
    """MetricFlow's errors run to dozens of lines: keep what is wrong and with which input."""
    text = str(exc)
    message = re.search(r"Message:\s*\n(.*?)(?:\n\s*\n|$)", text, re.S)
    subject = re.search(r"Object Builder Input:\s*\n\s*(.+)", text)
    parts = [
        " ".join(message.group(1).split()).removesuffix(" Common issues are:")
        if message
        else text.strip().split("\n")[0]
    ]
    if subject:
        parts.append(f"input: {subject.group(1).strip()}")
    return "; ".join(p for p in parts if p) or type(exc).__name__


class SemanticLayer:
    """The project's metrics, from the semantic manifest of one dbt target folder."""

    def __init__(self, semantic_manifest: str, adapter_type: str) -> None:
        manifest = parse_manifest_from_dbt_generated_manifest(
            manifest_json_string=semantic_manifest
        )
        self.lookup = SemanticManifestLookup(manifest)
        self.engine = MetricFlowEngine(
            semantic_manifest_lookup=self.lookup,
            sql_client=_DialectOnly(adapter_type),
        )

    @classmethod
    def from_target(cls, target_path: str | Path) -> SemanticLayer:
        """Read `semantic_manifest.json` and the adapter type from a dbt target folder."""
        target = Path(target_path)
        semantic = target / "semantic_manifest.json"
        manifest = target / "manifest.json"
        if not semantic.exists() or not manifest.exists():
            raise MetricsError(
                f"semantic layer: {semantic} is missing; run `dbt parse` (or any dbt build) first"
            )
        adapter_type = json.loads(manifest.read_text())["metadata"]["adapter_type"]
        return cls(semantic.read_text(), adapter_type)

    def metric_names(self) -> list[str]:
        return sorted(m.name for m in self.lookup.semantic_manifest.metrics)

    def sql(
        self,
        metrics: Sequence[str],
        group_by: Sequence[str] = (),
        where: Sequence[str] = (),
        order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> str:
        """The SQL MetricFlow generates for the query (its dialect is the target's)."""
        request = MetricFlowQueryRequest.create(
            metric_names=list(metrics),
            group_by_names=list(group_by) or None,
            where_constraints=list(where) or None,
            order_by_names=list(order_by) or None,
            limit=limit,
        )
        try:
            return self.engine.explain(request).sql_statement.sql
        except MetricsError:
            raise
        except Exception as exc:
            raise MetricsError(f"semantic layer: {', '.join(metrics)}: {_one_line(exc)}") from exc

    def query(
        self,
        connection: Connection,
        metrics: Sequence[str],
        group_by: Sequence[str] = (),
        where: Sequence[str] = (),
        order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Run the generated SQL on a DB-API style connection; one dict per row, by column name."""
        cursor = connection.execute(self.sql(metrics, group_by, where, order_by, limit))
        columns = [d[0].lower() for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


# The quickstart summary's figures, all time, in this order.
HEADLINE = [
    "valid_orders",
    "net_revenue_usd",
    "average_order_value_usd",
    "new_customers",
    "repeat_purchase_rate",
    "open_rate",
    "attributed_revenue_usd",
    "return_on_campaign_budget",
    "stock_on_hand",
    "products_out_of_stock",
    "quarantined_order_line_share",
]


def formatted(metric: str, value: Any) -> str:
    """A metric's value as a person reads it: dollars, percentages, thousands separators."""
    if value is None:
        return "n/a"
    if metric.endswith("_usd"):
        return f"${value:,.2f}"
    if metric.endswith(("_rate", "_share")):
        return f"{float(value):.1%}"
    if metric.startswith("return_on_"):
        return f"{float(value):,.2f}x"
    return f"{value:,}"


def headline(layer: SemanticLayer, connection: Connection) -> list[tuple[str, str, str]]:
    """(metric, label, formatted value) for each HEADLINE metric, one query each."""
    labels = {m.name: m.label or m.name for m in layer.lookup.semantic_manifest.metrics}
    values: dict[str, Any] = {}
    for metric in HEADLINE:
        values.update(layer.query(connection, [metric])[0])
    return [(m, labels[m], formatted(m, values[m])) for m in HEADLINE]


def check(layer: SemanticLayer) -> list[str]:
    """One line per metric MetricFlow cannot write SQL for, per day and in total: an unknown
    dimension or entity in a filter, a ratio over a broken metric. (A metric over a moving
    window has no total: it is asked per day only.)"""
    problems = []
    for name in layer.metric_names():
        for group_by in (["metric_time__day"], []):
            try:
                layer.sql([name], group_by)
            except MetricsError as exc:
                if not group_by and "does not accumulate over all-time" in str(exc):
                    continue
                problems.append(f"metric {name} ({' by '.join(group_by) or 'total'}): {exc}")
                break
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m reports.metrics",
        description="Check that MetricFlow can query every metric of the semantic manifest.",
    )
    parser.add_argument("command", choices=["check"])
    parser.add_argument("--target-path", default="target", help="the dbt target folder")
    args = parser.parse_args(argv)
    try:
        layer = SemanticLayer.from_target(args.target_path)
    except MetricsError as exc:
        print(exc, file=sys.stderr)
        return 1
    problems = check(layer)
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"semantic layer: all {len(layer.metric_names())} metrics compile")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
