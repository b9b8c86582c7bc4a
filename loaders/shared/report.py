"""What a run did: the summary table printed at the end and the audit rows kept in the warehouse."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from dlt.destinations.exceptions import DatabaseUndefinedRelation

from loaders.shared.locks import warehouse_lock
from loaders.shared.pipeline import make_pipeline
from loaders.shared.types import TableMetrics, emit

AUDIT_DATASET = "loader_audit"
# Column -> SQL type; the timestamp type is the destination's own (see _TIMESTAMP).
AUDIT_COLUMNS: dict[str, str] = {
    "run_id": "varchar",
    "run_started_at": "timestamp",
    "run_finished_at": "timestamp",
    "destination": "varchar",
    "source_name": "varchar",
    "table_name": "varchar",
    "load_mode": "varchar",
    "rows_extracted": "bigint",
    "rows_loaded": "bigint",
    "rows_deleted": "bigint",
    "zero_dates_nulled": "bigint",
    "extract_seconds": "double",
    "load_seconds": "double",
    "seconds": "double",
    "rows_per_second": "double",
    "status": "varchar",
    "error_message": "varchar",
    "note": "varchar",
    "capture": "varchar",  # cursor (updated_at, key scans) or stream (binlog, logical replication)
}
# Columns added after a table's first release: an older warehouse gets them on its next run.
ADDED_COLUMNS = {"load_runs": ("capture",), "stream_positions": ("margin_files", "position_json")}
# One row per source read from its change stream and run: where the stream stands.
STREAM_COLUMNS: dict[str, str] = {
    "run_id": "varchar",
    "checked_at": "timestamp",
    "source_name": "varchar",
    "stream_position": "varchar",
    "server_end": "varchar",
    "lag_bytes": "bigint",
    "held_bytes": "bigint",
    "margin_bytes": "bigint",
    "margin_files": "bigint",
    "lost": "varchar",
    "position_json": "varchar",  # the position as the loader stores it (for the monitoring)
}
_TIMESTAMP = {"duckdb": "timestamp with time zone", "snowflake": "timestamp_tz"}


def print_summary(results: Sequence[TableMetrics]) -> None:
    header = (
        f"{'source':<8} {'table':<18} {'mode':<12} {'extracted':>11} {'loaded':>11} {'deleted':>8} "
        f"{'zero→null':>9} {'seconds':>8} {'rows/s':>10}  status"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        status = {"ok": "ok", "failed": "FAILED", "interrupted": "INTERRUPTED"}[r.status]
        print(
            f"{r.source:<8} {r.table:<18} {r.mode:<12} {r.rows_extracted:>11,} {r.rows_loaded:>11,} "
            f"{r.rows_deleted:>8,} {r.zero_dates:>9,} {r.seconds:>8.2f} {r.rows_per_second:>10,.0f}  {status}"
        )
    for r in results:
        if r.error:  # errors name their source and table already
            print(f"  {r.error}")


def write_audit(results: Sequence[TableMetrics], destination: str, started: datetime) -> str | None:
    """One row per table and run, appended to loader_audit.load_runs; returns the run id.

    A few rows: written with one INSERT through the destination's SQL client rather than a
    second dlt pipeline run, which would cost a second of every run for bookkeeping.
    """
    if not results:
        return None
    run_id = str(uuid.uuid4())
    finished = datetime.now(UTC)
    rows = [
        {
            "run_id": run_id,
            "run_started_at": started,
            "run_finished_at": finished,
            "destination": destination,
            "source_name": r.source,
            "table_name": r.table,
            "load_mode": r.mode,
            "rows_extracted": r.rows_extracted,
            "rows_loaded": r.rows_loaded,
            "rows_deleted": r.rows_deleted,
            "zero_dates_nulled": r.zero_dates,
            "extract_seconds": round(r.extract_seconds, 3),
            "load_seconds": round(r.load_seconds, 3),
            "seconds": round(r.seconds, 3),
            "rows_per_second": round(r.rows_per_second, 1),
            "status": r.status,
            "error_message": r.error,
            "note": r.note or None,
            "capture": r.capture,
        }
        for r in results
    ]
    streams = {r.source: r.stream for r in results if r.stream is not None}
    stream_rows = [
        {
            "run_id": run_id,
            "checked_at": finished,
            "source_name": source,
            "stream_position": h.position or None,
            "server_end": h.server_end or None,
            "lag_bytes": h.lag_bytes,
            "held_bytes": h.held_bytes,
            "margin_bytes": h.margin_bytes,
            "margin_files": h.margin_files,
            "lost": h.lost or None,
            "position_json": h.position_json or None,
        }
        for source, h in streams.items()
    ]
    try:
        with warehouse_lock(destination, "loader audit"), audit_client(destination) as client:
            if not client.has_dataset():
                client.create_dataset()
            append_rows(client, "load_runs", AUDIT_COLUMNS, rows, destination)
            if stream_rows:
                append_rows(client, "stream_positions", STREAM_COLUMNS, stream_rows, destination)
    except Exception as exc:
        emit(
            f"loaders: could not write the audit rows to {destination} ({str(exc).splitlines()[0][:200]})"
        )
    return run_id


@contextlib.contextmanager
def audit_client(destination: str) -> Iterator[Any]:
    """dlt's SQL client on the warehouse, in the audit schema: the loaders' audit, the build
    plan's marks and the operations watch read and write through it."""
    with make_pipeline("audit", destination, AUDIT_DATASET).sql_client() as client:
        yield client


def query_rows(client: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """A query's rows; none when a table it reads does not exist yet (a new warehouse). Any
    other error is raised."""
    try:
        with client.execute_query(sql, *params) as cur:
            return list(cur.fetchall())
    except DatabaseUndefinedRelation:
        return []


def append_rows(
    client: Any,
    name: str,
    columns: dict[str, str],
    rows: Sequence[dict[str, Any]],
    destination: str,
) -> None:
    """Create the audit table if needed (adding columns an older one lacks), append the rows
    (none: only the table)."""
    table = client.make_qualified_table_name(name)
    ts = _TIMESTAMP.get(destination, "timestamp")
    types = {c: ts if t == "timestamp" else t for c, t in columns.items()}
    cols = ", ".join(f"{client.escape_column_name(c)} {t}" for c, t in types.items())
    client.execute_sql(f"create table if not exists {table} ({cols})")
    for c in ADDED_COLUMNS.get(name, ()):
        if c in types:
            client.execute_sql(
                f"alter table {table} add column if not exists {client.escape_column_name(c)} {types[c]}"
            )
    if not rows:
        return
    # Bound parameters (%s on every dlt SQL client): no literal quoting of our own.
    names = ", ".join(client.escape_column_name(c) for c in columns)
    row_marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    client.execute_sql(
        f"insert into {table} ({names}) values " + ", ".join([row_marks] * len(rows)),
        *[r[c] for r in rows for c in columns],
    )
