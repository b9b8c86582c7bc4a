"""Where the report pages read from: the warehouse's own connection, the semantic layer for
business figures, and one SQL query per pipeline or quality figure on the audit and
data-quality tables.

DuckDB (the default) is opened read-only. On Snowflake the same queries run through
snowflake-connector-python with the dbt `prod` target's settings (SNOWFLAKE_ACCOUNT, _USER,
_PASSWORD or _PRIVATE_KEY_PATH, _ROLE, _WAREHOUSE, _DATABASE); the loaders' audit is read from
SHOPSPHERE_RAW_DATABASE.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .metrics import MetricsError, SemanticLayer

HOURS = {"minute": 1 / 60, "hour": 1, "day": 24}


MARKS_TABLE = "dbt_node_marks"  # in the loaders' audit schema; orchestration.build_plan keeps it


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def mart_nodes(manifest: Mapping[str, Any]) -> list[str]:
    return sorted(
        uid
        for uid, node in manifest.get("nodes", {}).items()
        if node["resource_type"] == "model" and node.get("fqn", [None, None])[1] == "marts"
    )


def marts_current_as_of(
    query: Callable[[str], list[tuple[Any, ...]]],
    manifest: Mapping[str, Any],
    audit_schema: str = "loader_audit",
    runs_relation: str | None = None,
) -> datetime | None:
    """The marts hold every load that ended before this: the oldest mark of a mart (a planned
    build, even one that found nothing new), else the start of the newest dbt build that ended
    without an error (dbt_audit.runs: a plain `dbt build`). `query` returns [] for a table the
    warehouse does not hold."""
    marts = mart_nodes(manifest)
    if marts:
        listed = ", ".join(f"'{uid}'" for uid in marts)
        rows = query(
            f"select min(current_as_of), count(*) from {audit_schema}.{MARKS_TABLE} "
            f"where unique_id in ({listed})"
        )
        if rows and rows[0][1] == len(marts):
            return utc(rows[0][0])
    if runs_relation:
        rows = query(
            f"select max(started_at) from {runs_relation} where command = 'build' and errors = 0"
        )
        if rows and rows[0][0] is not None:
            return utc(rows[0][0])
    return None


class NoData(Exception):
    """What a section needs is not in the warehouse yet (a brand-new or empty warehouse)."""


def _missing(exc: Exception) -> bool:
    """A table or view that is not there yet (DuckDB's catalog error, Snowflake's 002003);
    never a wrong column, which is a bug to show."""
    text = str(exc).lower()
    if type(exc).__name__ == "CatalogException":
        return (
            re.search(r"(table|view|schema|catalog) with name \S+ does not exist", text) is not None
        )
    return "002003" in text or ("does not exist or not authorized" in text)


def freshness_thresholds(manifest: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Source -> {"warn": hours, "error": hours}: the strictest `freshness` its tables declare."""
    out: dict[str, dict[str, float]] = {}
    for node in manifest.get("sources", {}).values():
        freshness = node.get("freshness") or {}
        for level in ("warn", "error"):
            after = freshness.get(f"{level}_after") or {}
            if after.get("count") and after.get("period"):
                hours = float(after["count"]) * HOURS[after["period"]]
                current = out.setdefault(node["source_name"], {}).get(level, hours)
                out[node["source_name"]][level] = min(hours, current)
    return out


def last_loads_sql(audit_schema: str) -> str:
    """Each source's last successful load, from the loaders' audit."""
    return (
        f"select source_name, max(run_finished_at) as last_load "
        f"from {audit_schema}.load_runs where status = 'ok' group by source_name"
    )


@dataclasses.dataclass(frozen=True)
class SourceFreshness:
    """A source's age against its dbt `freshness` thresholds (hours): the overview page shows
    it, and the operations' freshness alert fires on `stale`."""

    source: str
    last_load: datetime | None
    hours: float | None
    warn_after: float | None
    error_after: float | None

    @property
    def state(self) -> str:
        if self.hours is None:
            return "never loaded"
        if self.error_after is not None and self.hours > self.error_after:
            return "stale"
        if self.warn_after is not None and self.hours > self.warn_after:
            return "late"
        return "fresh"


def sources_freshness(
    manifest: dict[str, Any], last_loads: Mapping[str, datetime | None], now: datetime
) -> list[SourceFreshness]:
    """Every source with a threshold or a load, by name: its last load, age and thresholds."""
    thresholds = freshness_thresholds(manifest)
    out = []
    for source in sorted(set(thresholds) | set(last_loads)):
        limits = thresholds.get(source, {})
        when = utc(last_loads.get(source))
        hours = None if when is None else (now - when).total_seconds() / 3600
        out.append(SourceFreshness(source, when, hours, limits.get("warn"), limits.get("error")))
    return out


class Source:
    """One warehouse connection, its dbt target folder, and the semantic layer over it."""

    def __init__(self, connection: Any, target_path: Path, audit_schema: str = "loader_audit"):
        self.connection = connection
        self.target_path = target_path
        self.audit_schema = audit_schema
        manifest_path = target_path / "manifest.json"
        self.manifest: dict[str, Any] = (
            json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        )
        try:
            self.layer: SemanticLayer | None = SemanticLayer.from_target(target_path)
        except MetricsError:
            self.layer = None

    @classmethod
    def duckdb(cls, path: str | Path, target_path: str | Path) -> Source:
        import duckdb

        if not Path(path).exists():
            raise SystemExit(f"reports: warehouse {path} does not exist; run the quickstart first")
        from loaders.shared.warehouse import duckdb_settings

        con = duckdb.connect(str(path), read_only=True, config=duckdb_settings())
        return cls(con, Path(target_path))

    @classmethod
    def snowflake(cls, target_path: str | Path) -> Source:
        import snowflake.connector

        from loaders.settings import settings, snowflake_connection
        from loaders.shared.errors import LoaderError

        try:
            connect = snowflake_connection()
        except LoaderError as exc:
            raise SystemExit(f"reports: {exc}") from None
        raw = settings().raw_database or "RAW"
        connection = snowflake.connector.connect(**connect, session_parameters={"TIMEZONE": "UTC"})
        return cls(connection, Path(target_path), audit_schema=f"{raw}.loader_audit")

    def close(self) -> None:
        self.connection.close()

    def _rows(self, sql: str) -> list[dict[str, Any]]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
            columns = [d[0].lower() for d in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def sql(self, sql: str) -> list[dict[str, Any]]:
        """One pipeline or quality query; NoData when its table does not exist yet."""
        try:
            return self._rows(sql)
        except Exception as exc:
            if _missing(exc):
                raise NoData("its table is not in the warehouse yet") from exc
            raise

    def metrics(
        self,
        metrics: Sequence[str],
        group_by: Sequence[str] = (),
        where: Sequence[str] = (),
        order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Business figures, from the semantic layer only; NoData before the first dbt build."""
        if self.layer is None:
            raise NoData("the semantic layer is not built yet (dbt build)")
        try:
            return self._rows(self.layer.sql(metrics, group_by, where, order_by, limit))
        except Exception as exc:
            if _missing(exc):
                raise NoData("the marts are not built yet (dbt build)") from exc
            raise

    def relation(self, model: str) -> str:
        """A dbt model's or seed's relation as the target built it (DuckDB or Snowflake names)."""
        nodes = self.manifest.get("nodes", {})
        node = nodes.get(f"model.shopsphere.{model}") or nodes.get(f"seed.shopsphere.{model}")
        if not node or not node.get("relation_name"):
            raise NoData(f"model {model} is not in the manifest")
        return str(node["relation_name"])

    def dbt_runs_relation(self) -> str:
        """Where the on-run-end hook records builds (macro record_dbt_run): the marts' database,
        schema dbt_audit."""
        database = self.relation("fct_orders").split(".")[0]
        return f"{database}.dbt_audit.runs"

    def marts_as_of(self) -> datetime | None:
        """The marts hold every load that ended before this (marts_current_as_of)."""

        def query(sql: str) -> list[tuple[Any, ...]]:
            try:
                return [tuple(row.values()) for row in self.sql(sql)]
            except NoData:
                return []

        try:
            runs: str | None = self.dbt_runs_relation()
        except NoData:
            runs = None
        return marts_current_as_of(query, self.manifest, self.audit_schema, runs)

    def freshest_load(self) -> datetime | None:
        """The last successful load of any source (loader_audit.load_runs)."""
        try:
            rows = self.sql(
                f"select max(run_finished_at) as at from {self.audit_schema}.load_runs "
                "where status = 'ok'"
            )
        except NoData:
            return None
        at = rows[0]["at"] if rows else None
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at
