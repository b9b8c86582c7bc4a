"""One load package: extract a source's resources, normalize, load, and count what raw committed.

All tables of a run go into one package. A table that fails to extract fails alone (the
extraction, which dlt discards whole, is run again without it); a signal stops the run at the
next safe point and its tables are recorded `interrupted`. The SQL runner, the change streams,
the reconciliation and HubSpot all land through `load_resources`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import dlt
from dlt.common.exceptions import SignalReceivedException
from dlt.common.pipeline import LoadInfo
from dlt.pipeline.exceptions import PipelineStepFailed

from loaders.engine.deletes import RawAccess
from loaders.privacy.suppression import suppression_maps
from loaders.shared.errors import LoaderError, is_transient
from loaders.shared.pipeline import drop_loaded_package, replace_strategy, root_message
from loaders.shared.types import TableMetrics, emit


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
    # Erased people's rows land with their declared PII blanked (loaders.privacy.suppression).
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
