"""Run one source into its raw schema: preflight, plan, load, measure.

Everything that can be checked before writing is checked first (credentials, connection,
tables, columns), so bad input fails with one line and nothing half-written. A load that
was interrupted (process killed) is finished before new data is extracted
(loaders.shared.pipeline). The layers below are called downward only: `plan` (how each table lands), then
`sql_table` (a table as a dlt resource), `deletes`, `sql_readers`, and `types` under all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import dlt

from loaders.engine.capture import merged, open_stream, resync_lost
from loaders.engine.deletes import DeleteContext, RawAccess
from loaders.engine.plan import plan_table, resource_state, retype_raw_columns
from loaders.engine.reconcile import reconcile_resource
from loaders.engine.sql_readers import ColumnTypeError, SqlReader, open_reader
from loaders.engine.sql_table import sql_table_resource
from loaders.engine.stream_table import stream_table_resource
from loaders.engine.streams.base import ChangeStream
from loaders.shared.errors import LoaderError, is_transient
from loaders.shared.load import is_interrupt, load_resources
from loaders.shared.locks import source_lock, warehouse_lock
from loaders.shared.pipeline import existing_tables, open_pipeline, pipelines_dir, secret
from loaders.shared.types import (
    Progress,
    SourceColumn,
    SqlSourceSpec,
    TableMetrics,
    TablePlan,
    TableSpec,
    emit,
)
from loaders.shared.warehouse import held_open


def select_tables(
    source: str, available: Sequence[str], requested: Sequence[str] | None
) -> list[str]:
    """The requested tables (all by default), in declaration order; LoaderError for unknown names."""
    if not requested:
        return list(available)
    unknown = [t for t in requested if t not in available]
    if unknown:
        raise LoaderError(
            f"{source}: no table {unknown[0]!r} (tables: {', '.join(sorted(available))})"
        )
    return [t for t in available if t in requested]


def run_sql_source(
    spec: SqlSourceSpec,
    tables: Sequence[str] | None,
    full_refresh: bool,
    destination: str,
    lag_seconds: float | None = None,
    chunk_rows: int | None = None,
    reconcile: bool = False,
) -> list[TableMetrics]:
    """Land `tables` (default: all) of a SQL source; returns one TableMetrics per table.
    `reconcile`: compare raw with the source instead, and repair what differs."""
    url = secret(f"sources.{spec.name}.credentials", spec.name, spec.credentials_example)
    reader: SqlReader = open_reader(url, spec.name, spec.pg_schema)
    names = select_tables(spec.name, [t.name for t in spec.tables], tables)
    selected = [t for t in spec.tables if t.name in names]
    if lag_seconds is None:
        lag_seconds = float(dlt.config.get(f"sources.{spec.name}.cursor_lag_seconds") or 300)
    if chunk_rows is None:
        chunk_rows = int(dlt.config.get(f"sources.{spec.name}.chunk_rows") or 250_000)
    stream: ChangeStream | None = None
    try:
        reader.check()
        stream = None if reconcile else open_stream(spec, reader.conn, names)
        with (
            source_lock(pipelines_dir(), spec.name, destination),
            warehouse_lock(destination, f"{spec.name} load"),
            held_open(destination),
        ):
            if reconcile:
                return _reconcile_tables(spec, reader, selected, destination)
            return _run_sql_tables(
                spec, reader, selected, full_refresh, destination, lag_seconds, chunk_rows, stream
            )
    finally:
        reader.close()
        if stream is not None:
            stream.close()


def _reconcile_tables(
    spec: SqlSourceSpec, reader: SqlReader, selected: Sequence[TableSpec], destination: str
) -> list[TableMetrics]:
    """Raw compared with the source, table by table; what differs is read again and merged."""
    pipeline, results = open_pipeline(spec.name, destination, spec.dataset, spec.tables)
    held = existing_tables(pipeline, spec.tables)
    plans: list[TablePlan] = []
    columns: dict[str, list[SourceColumn]] = {}
    for t in selected:
        if t.name not in held:
            results.append(
                TableMetrics(
                    spec.name,
                    t.name,
                    "reconcile",
                    error=f"{spec.name}.{t.name}: raw holds no such table yet; load it first",
                )
            )
            continue
        try:
            columns[t.name] = reader.columns(t.name)
            plan = plan_table(pipeline, spec.name, t, columns[t.name], False)
        except LoaderError as exc:
            results.append(TableMetrics(spec.name, t.name, "reconcile", error=str(exc)))
            continue
        if plan.mode == "backfill":  # a new column: only the load's backfill fills it whole
            results.append(
                TableMetrics(
                    spec.name,
                    t.name,
                    "reconcile",
                    error=f"{spec.name}.{t.name}: {plan.reason}; load it first",
                )
            )
            continue
        plan.mode = "reconcile"
        plans.append(plan)
    metrics = {p.spec.name: TableMetrics(spec.name, p.spec.name, "reconcile") for p in plans}
    raw = RawAccess(pipeline, held)
    deletes = DeleteContext(
        spec.name, reader, raw, columns, {t.name: t.primary_key for t in spec.tables}
    )
    progress = Progress(emit)
    resources = [
        reconcile_resource(spec.name, reader, p, deletes, metrics[p.spec.name], progress)
        for p in plans
    ]
    return results + load_resources(pipeline, spec.name, resources, metrics, raw)


def _run_sql_tables(
    spec: SqlSourceSpec,
    reader: SqlReader,
    selected: Sequence[TableSpec],
    full_refresh: bool,
    destination: str,
    lag_seconds: float,
    chunk_rows: int,
    stream: ChangeStream | None,
) -> list[TableMetrics]:
    results: list[TableMetrics] = []
    columns: dict[str, list[SourceColumn]] = {}
    for t in selected:  # a table whose columns raw cannot hold fails alone, before any load
        try:
            columns[t.name] = reader.columns(t.name)
        except ColumnTypeError as exc:
            results.append(TableMetrics(spec.name, t.name, "stopped", error=str(exc)))
            emit(f"  {exc}")
    pipeline, recovered = open_pipeline(spec.name, destination, spec.dataset, spec.tables)
    results = recovered + results
    capture = "cursor" if stream is None else "stream"
    plans: list[TablePlan] = []
    for t in selected:
        if t.name not in columns:
            continue
        try:
            plans.append(plan_table(pipeline, spec.name, t, columns[t.name], full_refresh, capture))
        except LoaderError as exc:
            results.append(TableMetrics(spec.name, t.name, "stopped", error=str(exc)))
            emit(f"  {exc}")
    if stream is not None:
        states = {p.spec.name: resource_state(pipeline, spec.name, p.spec.name) for p in plans}
        plans, stopped = resync_lost(stream, plans, states)
        results += stopped
    if not plans:
        return results
    for p in plans:
        if p.retype and p.atomic:
            retype_raw_columns(pipeline, spec.name, p)
    for p in plans:
        emit(f"  {spec.name}.{p.spec.name}: {p.mode}" + (f" ({p.reason})" if p.reason else ""))
    copies = plans if stream is None else [p for p in plans if p.mode != "incremental"]
    # In stream mode the position is taken before any copy: replaying from it finishes the copy.
    start = stream.prepare() if stream is not None and copies else None
    copied: dict[str, TableMetrics] = {}
    if copies:
        copied = {
            m.table: m
            for m in _load_copies(
                spec, reader, pipeline, copies, columns, lag_seconds, chunk_rows, start
            )
        }
    if stream is None:
        return results + list(copied.values())
    if any(m.interrupted for m in copied.values()):  # a signal asked the run to stop
        return results + list(copied.values())
    # A table goes on from its stored position: a copy that failed stored none.
    live = [
        p
        for p in plans
        if not (p.spec.name in copied and copied[p.spec.name].error)
        and "stream" in resource_state(pipeline, spec.name, p.spec.name)
    ]
    streamed = {m.table: m for m in _load_stream(spec, reader, pipeline, live, stream)}
    return results + [merged(copied.get(p.spec.name), streamed.get(p.spec.name)) for p in plans]


def _load_copies(
    spec: SqlSourceSpec,
    reader: SqlReader,
    pipeline: dlt.Pipeline,
    plans: Sequence[TablePlan],
    columns: dict[str, list[SourceColumn]],
    lag_seconds: float,
    chunk_rows: int,
    stream_position: dict[str, Any] | None,
) -> list[TableMetrics]:
    """Read the tables from the source (full, backfill, or incremental by the cursor)."""
    capture = "cursor" if stream_position is None else "stream"
    metrics = {
        p.spec.name: TableMetrics(spec.name, p.spec.name, p.mode, note=p.reason, capture=capture)
        for p in plans
    }
    raw = RawAccess(pipeline, existing_tables(pipeline, spec.tables))
    deletes = DeleteContext(
        spec.name,
        reader,
        raw,
        columns,
        {t.name: t.primary_key for t in spec.tables},
    )
    progress = Progress(emit)
    resources = [
        sql_table_resource(
            spec.name,
            reader,
            p,
            deletes,
            metrics[p.spec.name],
            progress,
            lag_seconds,
            chunk_rows,
            stream_position,
        )
        for p in plans
    ]
    atomic = any(p.atomic for p in plans)
    return load_resources(pipeline, spec.name, resources, metrics, raw, atomic)


def _load_stream(
    spec: SqlSourceSpec,
    reader: SqlReader,
    pipeline: dlt.Pipeline,
    plans: Sequence[TablePlan],
    stream: ChangeStream,
) -> list[TableMetrics]:
    """Merge each table's changes from its stored position to the server's end, in one load
    package with the new position; the server may release the stream once raw committed it."""
    if not plans:
        return []
    started = time.perf_counter()
    since = {p.spec.name: resource_state(pipeline, spec.name, p.spec.name)["stream"] for p in plans}
    metrics = {
        p.spec.name: TableMetrics(spec.name, p.spec.name, "incremental", capture="stream")
        for p in plans
    }
    try:
        changes, end = stream.read(since, {p.spec.name: p.spec.primary_key for p in plans})
    except LoaderError as exc:
        for m in metrics.values():
            m.error, m.transient, m.interrupted = str(exc), is_transient(exc), is_interrupt(exc)
        return list(metrics.values())
    read_seconds = time.perf_counter() - started
    raw = RawAccess(pipeline, existing_tables(pipeline, spec.tables))
    as_text = stream.text_values
    resources = [
        stream_table_resource(
            spec.name, p, changes[p.spec.name], end, metrics[p.spec.name], raw, reader, as_text
        )
        for p in plans
    ]
    results = load_resources(pipeline, spec.name, resources, metrics, raw, atomic_replace=False)
    if not any(m.error for m in results):
        stream.confirm(end)
    health = stream.health(end)
    health.lost = stream.lost_reason
    health.position_json = json.dumps(end, sort_keys=True)
    for m in results:
        m.extract_seconds += read_seconds / len(results)
        m.stream = health
    return results
