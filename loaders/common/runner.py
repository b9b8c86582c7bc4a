"""Run one source into its raw schema: preflight, plan, load, measure.

Everything that can be checked before writing is checked first (credentials, connection,
tables, columns), so bad input fails with one line and nothing half-written. A load that
was interrupted (process killed) is finished before new data is extracted (loaders.common.
pipeline). The layers below are called downward only: `plan` (how each table lands), then
`sql_table` (a table as a dlt resource), `deletes`, `sql_readers`, and `types` under all.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from typing import Any

import dlt
from dlt.common.exceptions import SignalReceivedException
from dlt.common.pipeline import LoadInfo
from dlt.pipeline.exceptions import PipelineStepFailed

from .capture import merged, open_stream, resync_lost
from .deletes import DeleteContext, RawAccess
from .errors import LoaderError, is_transient
from .locks import source_lock, warehouse_lock
from .pipeline import (
    drop_loaded_package,
    existing_tables,
    open_pipeline,
    pipelines_dir,
    replace_strategy,
    root_message,
    secret,
)
from .plan import plan_table, resource_state, retype_raw_columns
from .privacy import suppression_maps
from .reconcile import reconcile_resource
from .sql_readers import ColumnTypeError, SqlReader, open_reader
from .sql_table import sql_table_resource
from .stream_table import stream_table_resource
from .streams.base import ChangeStream
from .types import Progress, SourceColumn, SqlSourceSpec, TableMetrics, TablePlan, TableSpec, emit


def _load_seconds(info: LoadInfo | None) -> dict[str, float]:
    out: dict[str, float] = {}
    if info is None:
        return out
    for load_id in info.loads_ids:
        for metrics in info.metrics.get(load_id, []):
            for job in metrics.get("job_metrics", {}).values():
                if job.started_at and job.finished_at:
                    seconds = (job.finished_at - job.started_at).total_seconds()
                    out[job.table_name] = out.get(job.table_name, 0.0) + seconds
    return out


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


def load_resources(
    pipeline: dlt.Pipeline,
    source: str,
    resources: Sequence[Any],
    metrics: dict[str, TableMetrics],
    raw: RawAccess,
    atomic_replace: bool = False,
) -> list[TableMetrics]:
    """Extract, normalize and load the resources; figures (or the error) land in `metrics`.

    All tables go into one load package. A table that fails to extract (a value that does not
    fit, a type drift) fails alone: the extraction, which dlt discards whole, is run again
    without it, so its rows never reach raw and the other tables still load. A reload of a
    table raw holds (atomic_replace) goes through staging and is swapped in atomically; a first
    load has nothing to protect and writes straight into the table. `rows_loaded` ends as what
    raw committed: zero when the load did not complete, with the status `interrupted` when a
    signal stopped the run.
    """
    pending = list(resources)
    load_id: str | None = None
    info: LoadInfo | None = None
    # Erased people's rows land with their declared PII blanked (loaders.common.privacy).
    if suppression_maps(source, pending, raw.rows):
        emit(f"  {source}: the erased people's PII is blanked before it lands")
    try:
        # raw's session stays open through extraction: on DuckDB it keeps the database open,
        # so the many short reads do not each checkpoint the file.
        try:
            while pending:
                try:
                    extracted = pipeline.extract(
                        _dlt_source(source, list(pending)), loader_file_format="parquet"
                    )
                except PipelineStepFailed as exc:
                    failed = _failed_resource(exc)
                    if failed is None or is_interrupt(exc) or failed not in metrics:
                        for r in pending:
                            _fail(metrics[r.name], source, exc)
                        break
                    _fail(metrics[failed], source, exc)
                    pending = [r for r in pending if r.name != failed]
                    for r in pending:  # read again from the start
                        _restart(metrics[r.name])
                    continue
                load_id = extracted.loads_ids[-1] if extracted.loads_ids else None
                break
        finally:
            raw.close()
        if load_id is not None:
            strategy = "insert-from-staging" if atomic_replace else "truncate-and-insert"
            with replace_strategy(strategy):
                try:
                    pipeline.normalize()
                    info = pipeline.load()
                except PipelineStepFailed as exc:
                    for r in pending:
                        _fail(metrics[r.name], source, exc)
    except Interrupted as exc:
        for m in metrics.values():
            if not m.error:
                m.error, m.interrupted = f"{source}.{m.table}: {exc}", True
    if _count_committed(pipeline, metrics, load_id) and load_id is not None:
        drop_loaded_package(pipeline, load_id)
    load_seconds = _load_seconds(info)
    for m in metrics.values():
        m.load_seconds = load_seconds.get(m.table, 0.0)
        m.load_id = load_id if m.rows_loaded or not m.error else None
    return list(metrics.values())


def _dlt_source(name: str, resources: list[Any]) -> Any:
    return dlt.source(name=name, max_table_nesting=0)(lambda: resources)()


def _failed_resource(exc: BaseException | None) -> str | None:
    """The resource whose extraction raised, from dlt's exception chain."""
    while exc is not None:
        name = getattr(exc, "pipe_name", None)
        if name:
            return str(name)
        exc = exc.__cause__ or exc.__context__
    return None


def _restart(m: TableMetrics) -> None:
    m.rows_extracted = m.rows_loaded = m.rows_deleted = m.zero_dates = 0
    m.extract_seconds = 0.0


class Interrupted(LoaderError):
    """A signal (SIGTERM, SIGINT) asked the run to stop."""


def _fail(m: TableMetrics, source: str, exc: BaseException) -> None:
    message = root_message(exc)
    m.interrupted = m.interrupted or is_interrupt(exc)
    m.transient = is_transient(exc)
    if m.interrupted:
        message = "interrupted by a signal; the next run finishes what was extracted"
    m.error = message if message.startswith(source) else f"{source}.{m.table}: {message}"


def is_interrupt(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, Interrupted | SignalReceivedException | KeyboardInterrupt):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _count_committed(
    pipeline: dlt.Pipeline, metrics: dict[str, TableMetrics], load_id: str | None
) -> bool:
    """Zero rows_loaded and rows_deleted of every table unless its load package completed;
    whether it completed."""
    done = False
    if load_id is not None:
        with contextlib.suppress(Exception), pipeline.sql_client() as client:
            table = client.make_qualified_table_name("_dlt_loads")
            with client.execute_query(
                f"select count(*) from {table} where status = 0 and load_id = %s", load_id
            ) as cur:
                row = cur.fetchone()
            done = bool(row and row[0])
    for m in metrics.values():
        if not done or m.error:
            m.rows_loaded = 0
            m.rows_deleted = 0
    return done


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
    live = [p for p in plans if p.spec.name not in copied or not copied[p.spec.name].error]
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
            m.error, m.transient = str(exc), is_transient(exc)
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
