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
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.common.exceptions import SignalReceivedException
from dlt.common.pipeline import LoadInfo
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.pipeline.exceptions import PipelineStepFailed

from .deletes import DeleteContext, RawAccess
from .errors import LoaderError, TransientLoaderError, is_transient
from .locks import source_lock, warehouse_lock
from .privacy import suppression_maps
from .sql_readers import ColumnTypeError, SourceColumn, SqlReader, open_reader
from .sql_table import (
    DELETED_COLUMN,
    Progress,
    TableMetrics,
    TablePlan,
    TableSpec,
    dlt_type_of,
    sql_table_resource,
)
from .warehouse import duckdb_path, duckdb_settings

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
        path = duckdb_path()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        return dlt.destinations.duckdb(DuckDbCredentials(path, global_config=duckdb_settings()))
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
    """Decide how a table lands this run; LoaderError if its schema changed in a lossy way.

    A table raw already holds is reloaded through staging and swapped in one transaction
    (`atomic`), so readers see the previous complete data until the new load completes. A
    `--full-refresh` after a column type changed converts that raw column first (`retype`).
    """
    state = _resource_state(pipeline, source, spec.name)
    stored = _stored_columns(pipeline, spec.name)
    exists = stored is not None
    changed = _changed_types(stored or {}, columns)
    if full_refresh:
        return TablePlan(
            spec, columns, "full", "--full-refresh", atomic=exists, retype=tuple(changed)
        )
    if stored is None or "cursor_us" not in state:
        return TablePlan(spec, columns, "full", "first load", atomic=exists)
    if changed:
        raise LoaderError(
            f"{source}.{spec.name}: column type changed in the source: {'; '.join(changed.values())}. "
            f"Raw keeps the old type rather than coerce values; review the change, then run "
            f"`python -m loaders.run --source {source} --table {spec.name} --full-refresh` to rebuild it"
        )
    new = [c.name for c in columns if c.name not in stored]
    if new:
        return TablePlan(
            spec,
            columns,
            "backfill",
            f"new column(s) {', '.join(new)}: reloading to backfill",
            atomic=True,
        )
    return TablePlan(spec, columns, "incremental")


def _changed_types(
    stored: dict[str, dict[str, Any]], columns: Sequence[SourceColumn]
) -> dict[str, str]:
    """{column: 'c old -> new'} for the source columns whose type differs from raw's."""
    changed = {}
    for c in columns:
        old = stored.get(c.name)
        if old is None or "data_type" not in old:
            continue
        new_type = dlt_type_of(c)
        old_type = (old["data_type"], old.get("precision"), old.get("scale"))
        if old_type[0] == "timestamp":
            old_type = ("timestamp", None, old.get("scale"))
        if new_type != old_type:
            changed[c.name] = (
                f"{c.name} {_fmt_type(old_type)} -> {c.source_type} ({_fmt_type(new_type)})"
            )
    return changed


def retype_raw_columns(pipeline: dlt.Pipeline, source: str, plan: TablePlan) -> None:
    """Convert raw's columns to the source's new types before a full refresh swaps them in.

    One transaction converts the old values (every widening converts: int to text, a wider
    decimal), so the table keeps its complete data until the reload replaces it. Where the
    warehouse cannot convert in place, the table is dropped and loaded afresh, and readers see
    it empty until that load completes (said on stderr).
    """
    table_name = plan.spec.name
    by_name = {c.name: c for c in plan.columns}
    stored = pipeline.default_schema.tables[table_name]["columns"]
    new_columns: dict[str, Any] = {}
    for name in plan.retype:
        new_type, precision, scale = dlt_type_of(by_name[name])
        column = {**stored[name], "data_type": new_type, "precision": precision, "scale": scale}
        new_columns[name] = {k: v for k, v in column.items() if v is not None}
    converted = True
    job_client: Any
    with pipeline.destination_client() as job_client:
        client = job_client.sql_client
        table = client.make_qualified_table_name(table_name)
        prepared = job_client.prepare_load_table(table_name)
        statements = [
            f"alter table {table} alter column {client.escape_column_name(name)} set data type "
            f"{job_client.type_mapper.to_destination_type(column, prepared)}"
            for name, column in new_columns.items()
        ]
        try:
            with client.begin_transaction():
                for statement in statements:
                    client.execute_sql(statement)
        except Exception as exc:
            emit(
                f"  {source}.{table_name}: raw cannot convert {', '.join(plan.retype)} in place "
                f"({str(exc).splitlines()[0][:160]}); dropping it: readers see it empty until this load completes"
            )
            client.execute_sql(f"drop table if exists {table}")
            converted = False
    schema = pipeline.default_schema
    if converted:
        schema.tables[table_name]["columns"].update(new_columns)
    else:
        schema.drop_tables([table_name])
        plan.atomic = False
    pipeline.schemas.save_schema(schema)


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


def finish_interrupted(
    pipeline: dlt.Pipeline, source: str, tables: Sequence[TableSpec]
) -> list[TableMetrics]:
    """Load packages a killed run left behind, before anything new is extracted.

    dlt retries the jobs that had not been marked done. A merge deduplicates its staging data,
    but a job that had committed its COPY into a replaced table just before the kill is run
    again and appends its rows twice; those exact duplicates are removed here. Only this path
    pays for the check: a normal full load writes straight into the table.

    Returns one row per table the recovery loaded (mode `recovery`), counted in raw.
    """
    if not pipeline.has_pending_data:
        return []
    emit(f"  {source}: finishing an interrupted load left by a previous run")
    started = time.perf_counter()
    try:
        pending = [
            *pipeline.list_extracted_load_packages(),
            *pipeline.list_normalized_load_packages(),
        ]
        pipeline.normalize()
        pipeline.load()
    except PipelineStepFailed as exc:
        raise LoaderError(
            f"{source}: could not finish the interrupted load: {_root(exc)}"
        ) from None
    recovered: list[TableMetrics] = []
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
            if pending:
                marks = ", ".join(["%s"] * len(pending))
                load_id = client.escape_column_name("_dlt_load_id")
                with client.execute_query(
                    f"select count(*) from {table} where {load_id} in ({marks})", *pending
                ) as cur:
                    row = cur.fetchone()
                loaded = int(row[0]) if row else 0
                if loaded:
                    recovered.append(
                        TableMetrics(
                            source,
                            spec.name,
                            "recovery",
                            rows_loaded=loaded,
                            note="finished the load an interrupted run left",
                        )
                    )
    seconds = time.perf_counter() - started
    for m in recovered:
        m.load_seconds = seconds / len(recovered)
    return recovered


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
) -> tuple[dlt.Pipeline, list[TableMetrics]]:
    """The source's pipeline, consistent with the warehouse it loads into, and what recovery did.

    - a new machine (no local state): state and schema are restored from raw;
    - a new or reset warehouse (local state, but raw holds none for this pipeline): the local
      state is dropped, or its cursors would skip everything loaded before; tables load afresh;
    - a warehouse another process holds (DuckDB's single writer): LoaderError, state untouched;
    - a run killed mid-load: its packages are finished first (see finish_interrupted).
    """
    pipeline = make_pipeline(source, destination, dataset)
    has_state = _warehouse_has_state(pipeline, source)
    if pipeline.first_run:
        if has_state:
            pipeline.sync_destination()  # a new machine: restore state and schema from raw
    elif not has_state:
        emit(
            f"  {source}: the warehouse holds no state of this pipeline (new or reset): loading from scratch"
        )
        pipeline.drop()
        pipeline = make_pipeline(source, destination, dataset)
    return pipeline, finish_interrupted(pipeline, source, tables)


def _warehouse_has_state(pipeline: dlt.Pipeline, source: str) -> bool:
    """Whether raw holds this pipeline's state. Only a missing dataset or table means no: any
    other error (a lock another process holds, a lost connection) is raised, never read as a
    reset."""
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
    except DatabaseUndefinedRelation:
        return False
    except Exception as exc:
        text = str(exc).strip() or repr(exc)
        # dlt wraps the driver's words in advice about credentials: keep the driver's.
        text = text.rsplit("The actual reason given is: ", 1)[-1].splitlines()[0][:300]
        if "lock" in text.lower():
            raise TransientLoaderError(
                f"{source}: the warehouse is in use by another process ({text}); "
                "retry when that process has finished"
            ) from None
        raise LoaderError(f"{source}: cannot read the warehouse ({text})") from None


def existing_tables(pipeline: dlt.Pipeline, tables: Sequence[TableSpec]) -> list[str]:
    return [t.name for t in tables if _stored_columns(pipeline, t.name) is not None]


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
    message = _root(exc)
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


def drop_loaded_package(pipeline: dlt.Pipeline, load_id: str) -> None:
    """Retention: a package raw committed is deleted from disk. Its files are the rows in
    clear text, PII included, and raw holds them now."""
    with contextlib.suppress(FileNotFoundError):
        pipeline._get_load_storage().delete_loaded_package(load_id)


def pipelines_dir() -> str:
    return os.environ.get("SHOPSPHERE_PIPELINES_DIR", DEFAULT_PIPELINES_DIR)


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
        with (
            source_lock(pipelines_dir(), spec.name, destination),
            warehouse_lock(destination, f"{spec.name} load"),
        ):
            return _run_sql_tables(
                spec, reader, selected, full_refresh, destination, lag_seconds, chunk_rows
            )
    finally:
        reader.close()


def _run_sql_tables(
    spec: SqlSourceSpec,
    reader: SqlReader,
    selected: Sequence[TableSpec],
    full_refresh: bool,
    destination: str,
    lag_seconds: float,
    chunk_rows: int,
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
    plans: list[TablePlan] = []
    for t in selected:
        if t.name not in columns:
            continue
        try:
            plans.append(plan_table(pipeline, spec.name, t, columns[t.name], full_refresh))
        except LoaderError as exc:
            results.append(TableMetrics(spec.name, t.name, "stopped", error=str(exc)))
            emit(f"  {exc}")
    if not plans:
        return results
    for p in plans:
        if p.retype and p.atomic:
            retype_raw_columns(pipeline, spec.name, p)
    metrics = {
        p.spec.name: TableMetrics(spec.name, p.spec.name, p.mode, note=p.reason) for p in plans
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
            spec.name, reader, p, deletes, metrics[p.spec.name], progress, lag_seconds, chunk_rows
        )
        for p in plans
    ]
    for p in plans:
        emit(f"  {spec.name}.{p.spec.name}: {p.mode}" + (f" ({p.reason})" if p.reason else ""))
    atomic = any(p.atomic for p in plans)
    return results + load_resources(pipeline, spec.name, resources, metrics, raw, atomic)
