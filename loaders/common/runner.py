"""Run one source into its raw schema: preflight, plan, load, measure.

Everything that can be checked before writing is checked first (credentials, connection,
tables, columns), so bad input fails with one line and nothing half-written. A load that
was interrupted (process killed) is finished before new data is extracted: dlt keeps the
package and the state that goes with it, so the rerun ends where an uninterrupted run would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.pipeline.exceptions import PipelineStepFailed

from .deletes import DeleteContext, RawAccess, WithParent
from .errors import LoaderError
from .sql_readers import SourceColumn, SqlReader, open_reader
from .sql_table import (
    DELETED_COLUMN,
    Progress,
    TableMetrics,
    TablePlan,
    TableSpec,
    dlt_type_of,
    sql_table_resource,
)

DEFAULT_DUCKDB = "data/warehouse.duckdb"
DEFAULT_PIPELINES_DIR = "data/dlt"


@dataclasses.dataclass(frozen=True)
class SqlSourceSpec:
    """A SQL source system: its tables and where it lands."""

    name: str
    system: str
    tables: tuple[TableSpec, ...]
    pg_schema: str = "public"
    credentials_example: str = ""

    @property
    def dataset(self) -> str:
        return f"raw_{self.name}"


def emit(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def make_destination(kind: str) -> Any:
    if kind == "duckdb":
        path = os.environ.get("DESTINATION__DUCKDB__CREDENTIALS") or os.environ.get(
            "SHOPSPHERE_DUCKDB_PATH", DEFAULT_DUCKDB
        )
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(str(Path(path).resolve()))
    if kind == "snowflake":
        return dlt.destinations.snowflake()
    raise LoaderError(f"unknown destination {kind!r}; use duckdb or snowflake")


def make_pipeline(source: str, destination: str, dataset: str) -> dlt.Pipeline:
    if destination == "duckdb":
        # lz4 writes parquet twice as fast as snappy at the same size; Snowflake's parquet
        # reader does not list lz4, so other destinations keep dlt's default.
        os.environ.setdefault("DATA_WRITER__COMPRESSION", "lz4")
    pipelines_dir = os.environ.get("SHOPSPHERE_PIPELINES_DIR", DEFAULT_PIPELINES_DIR)
    pipeline = dlt.pipeline(
        pipeline_name=f"shopsphere_{source}_{destination}",
        destination=make_destination(destination),
        dataset_name=dataset,
        pipelines_dir=str(Path(pipelines_dir).resolve()),
    )
    return pipeline


def secret(path: str, source: str, example: str) -> str:
    value: Any = dlt.secrets.get(path)
    if not value:
        env = "__".join(path.upper().split("."))
        raise LoaderError(
            f"{source}: no credentials; set {env} (e.g. {example}) or [{path.rsplit('.', 1)[0]}] "
            f"{path.rsplit('.', 1)[1]} in .dlt/secrets.toml"
        )
    return str(value)


def _resource_state(pipeline: dlt.Pipeline, source: str, table: str) -> dict[str, Any]:
    state: dict[str, Any] = pipeline.state.get("sources", {}).get(source, {})
    resources: dict[str, Any] = state.get("resources", {})
    return dict(resources.get(table, {}))


def _stored_columns(pipeline: dlt.Pipeline, table: str) -> dict[str, dict[str, Any]] | None:
    if not pipeline.default_schema_name:
        return None
    tables = pipeline.default_schema.tables
    if table not in tables:
        return None
    return {
        name: col
        for name, col in tables[table].get("columns", {}).items()
        if not name.startswith("_dlt") and name != DELETED_COLUMN
    }


def plan_table(
    pipeline: dlt.Pipeline,
    source: str,
    spec: TableSpec,
    columns: list[SourceColumn],
    full_refresh: bool,
) -> TablePlan:
    """Decide how a table lands this run; LoaderError if its schema changed in a lossy way."""
    if full_refresh:
        return TablePlan(spec, columns, "full", "--full-refresh")
    state = _resource_state(pipeline, source, spec.name)
    stored = _stored_columns(pipeline, spec.name)
    if stored is None or "cursor_us" not in state:
        return TablePlan(spec, columns, "full", "first load")
    changed = []
    for c in columns:
        old = stored.get(c.name)
        if old is None or "data_type" not in old:
            continue
        new_type = dlt_type_of(c)
        old_type = (old["data_type"], old.get("precision"), old.get("scale"))
        if old_type[0] == "timestamp":
            old_type = ("timestamp", None, old.get("scale"))
        if new_type != old_type:
            changed.append(
                f"{c.name} {_fmt_type(old_type)} -> {c.source_type} ({_fmt_type(new_type)})"
            )
    if changed:
        raise LoaderError(
            f"{source}.{spec.name}: column type changed in the source: {'; '.join(changed)}. "
            f"Raw keeps the old type rather than coerce values; review the change, then run "
            f"`python -m loaders.run --source {source} --table {spec.name} --full-refresh` to rebuild it"
        )
    new = [c.name for c in columns if c.name not in stored]
    if new:
        return TablePlan(
            spec, columns, "backfill", f"new column(s) {', '.join(new)}: reloading to backfill"
        )
    return TablePlan(spec, columns, "incremental")


def _fmt_type(t: tuple[str, int | None, int | None]) -> str:
    name, precision, scale = t
    if name == "decimal":
        return f"decimal({precision},{scale})"
    if name == "bigint" and precision:
        return f"int{precision}"
    return name


@contextlib.contextmanager
def replace_strategy(strategy: str) -> Iterator[None]:
    key = "DESTINATION__REPLACE_STRATEGY"
    old = os.environ.get(key)
    os.environ[key] = strategy
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def finish_interrupted(pipeline: dlt.Pipeline, source: str, tables: Sequence[TableSpec]) -> None:
    """Load packages a killed run left behind, before anything new is extracted.

    dlt retries the jobs that had not been marked done. A merge deduplicates its staging data,
    but a job that had committed its COPY into a replaced table just before the kill is run
    again and appends its rows twice; those exact duplicates are removed here. Only this path
    pays for the check: a normal full load writes straight into the table.
    """
    if not pipeline.has_pending_data:
        return
    emit(f"  {source}: finishing an interrupted load left by a previous run")
    try:
        pipeline.normalize()
        pipeline.load()
    except PipelineStepFailed as exc:
        raise LoaderError(
            f"{source}: could not finish the interrupted load: {_root(exc)}"
        ) from None
    with pipeline.sql_client() as client:
        for spec in tables:
            if _stored_columns(pipeline, spec.name) is None:
                continue
            table = client.make_qualified_table_name(spec.name)
            keys = ", ".join(client.escape_column_name(k) for k in spec.primary_key)
            with client.execute_query(
                f"select count(*) from (select {keys} from {table} group by {keys} having count(*) > 1) d"
            ) as cur:
                row = cur.fetchone()
            duplicated = int(row[0]) if row else 0
            if duplicated:
                emit(
                    f"  {source}.{spec.name}: removing {duplicated} keys duplicated by the retried load"
                )
                client.execute_sql(
                    f"create or replace table {table} as select * from {table} "
                    f"qualify row_number() over (partition by {keys} order by {keys}) = 1"
                )


def _root(exc: BaseException) -> str:
    while exc.__cause__ is not None and not isinstance(exc, LoaderError):
        exc = exc.__cause__
    return str(exc).strip().splitlines()[0][:400] if str(exc).strip() else exc.__class__.__name__


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


def open_pipeline(
    source: str, destination: str, dataset: str, tables: Sequence[TableSpec]
) -> dlt.Pipeline:
    """The source's pipeline, consistent with the warehouse it loads into.

    - a new machine (no local state): state and schema are restored from raw;
    - a new or reset warehouse (local state, but raw holds none for this pipeline): the local
      state is dropped, or its cursors would skip everything loaded before; tables load afresh;
    - a run killed mid-load: its packages are finished first (see finish_interrupted).
    """
    pipeline = make_pipeline(source, destination, dataset)
    if pipeline.first_run:
        with contextlib.suppress(Exception):
            pipeline.sync_destination()  # a new machine: restore state and schema from raw
    elif not _warehouse_has_state(pipeline):
        emit(
            f"  {source}: the warehouse holds no state of this pipeline (new or reset): loading from scratch"
        )
        pipeline.drop()
        pipeline = make_pipeline(source, destination, dataset)
    finish_interrupted(pipeline, source, tables)
    return pipeline


def _warehouse_has_state(pipeline: dlt.Pipeline) -> bool:
    try:
        with pipeline.sql_client() as client:
            if not client.has_dataset():
                return False
            table = client.make_qualified_table_name("_dlt_pipeline_state")
            with client.execute_query(
                f"select count(*) from {table} where pipeline_name = %s", pipeline.pipeline_name
            ) as cur:
                row = cur.fetchone()
            return bool(row and row[0])
    except Exception:  # no state table at all: nothing was ever loaded there
        return False


def existing_tables(pipeline: dlt.Pipeline, tables: Sequence[TableSpec]) -> list[str]:
    return [t.name for t in tables if _stored_columns(pipeline, t.name) is not None]


def load_resources(
    pipeline: dlt.Pipeline,
    source: str,
    resources: Sequence[Any],
    metrics: dict[str, TableMetrics],
    raw: RawAccess,
    full_refresh: bool,
    atomic_replace: bool = False,
) -> list[TableMetrics]:
    """Extract, normalize and load the resources; figures (or the error) land in `metrics`.

    A reload of an existing table (atomic_replace) goes through staging and is swapped in
    atomically; a first load has nothing to protect and writes straight into the table.
    """
    dlt_source = dlt.source(name=source, max_table_nesting=0)(lambda: list(resources))()
    info = None
    with replace_strategy("insert-from-staging" if atomic_replace else "truncate-and-insert"):
        try:
            # raw's session stays open through the load: on DuckDB it keeps the database
            # open, so the load's many short connections do not each checkpoint the file.
            try:
                if full_refresh:  # drop the tables and their state, then load from scratch
                    pipeline.extract(
                        dlt_source, refresh="drop_resources", loader_file_format="parquet"
                    )
                else:
                    pipeline.extract(dlt_source, loader_file_format="parquet")
                pipeline.normalize()
                info = pipeline.load()
            finally:
                raw.close()
        except PipelineStepFailed as exc:
            message = _root(exc)
            for m in metrics.values():
                m.error = (
                    message if message.startswith(source) else f"{source}.{m.table}: {message}"
                )
            return list(metrics.values())
    load_seconds = _load_seconds(info)
    for m in metrics.values():
        m.load_seconds = load_seconds.get(m.table, 0.0)
    return list(metrics.values())


def run_sql_source(
    spec: SqlSourceSpec,
    tables: Sequence[str] | None,
    full_refresh: bool,
    destination: str,
    lag_seconds: float | None = None,
    chunk_rows: int | None = None,
) -> list[TableMetrics]:
    """Land `tables` (default: all) of a SQL source; returns one TableMetrics per table."""
    url = secret(f"sources.{spec.name}.credentials", spec.name, spec.credentials_example)
    reader: SqlReader = open_reader(url, spec.name, spec.pg_schema)
    names = select_tables(spec.name, [t.name for t in spec.tables], tables)
    selected = [t for t in spec.tables if t.name in names]
    if lag_seconds is None:
        lag_seconds = float(dlt.config.get(f"sources.{spec.name}.cursor_lag_seconds") or 300)
    if chunk_rows is None:
        chunk_rows = int(dlt.config.get(f"sources.{spec.name}.chunk_rows") or 250_000)
    try:
        reader.check()
        columns = {t.name: reader.columns(t.name) for t in selected}
        pipeline = open_pipeline(spec.name, destination, spec.dataset, spec.tables)
        plans: list[TablePlan] = []
        results: list[TableMetrics] = []
        for t in selected:
            try:
                plans.append(plan_table(pipeline, spec.name, t, columns[t.name], full_refresh))
            except LoaderError as exc:
                results.append(TableMetrics(spec.name, t.name, "stopped", error=str(exc)))
                emit(f"  {exc}")
        if not plans:
            return results
        metrics = {
            p.spec.name: TableMetrics(spec.name, p.spec.name, p.mode, note=p.reason) for p in plans
        }
        if any(isinstance(p.spec.deletes, WithParent) for p in plans):
            for t in spec.tables:  # parents outside this run still answer for their children
                if t.name not in columns:
                    columns[t.name] = reader.columns(t.name)
        raw = RawAccess(pipeline, existing_tables(pipeline, spec.tables))
        deletes = DeleteContext(
            spec.name,
            reader,
            raw,
            columns,
            {t.name: t.primary_key for t in spec.tables},
            {t.name: t.cursor for t in spec.tables},
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
            )
            for p in plans
        ]
        for p in plans:
            emit(f"  {spec.name}.{p.spec.name}: {p.mode}" + (f" ({p.reason})" if p.reason else ""))
        atomic = any(p.mode == "backfill" for p in plans)
        return results + load_resources(
            pipeline, spec.name, resources, metrics, raw, full_refresh, atomic
        )
    finally:
        reader.close()
