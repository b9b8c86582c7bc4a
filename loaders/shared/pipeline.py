"""The dlt pipeline a source lands through: its destination, its state kept in step with the
warehouse, and the packages a killed run left behind, finished before anything new is read.
dlt keeps each load package with the state that goes with it, so the rerun ends where an
uninterrupted run would."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.pipeline.exceptions import PipelineStepFailed

from loaders.settings import settings
from loaders.shared.errors import LoaderError, TransientLoaderError
from loaders.shared.types import DELETED_COLUMN, TableMetrics, TableSpec, emit
from loaders.shared.warehouse import duckdb_path, duckdb_settings


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
    pipeline = dlt.pipeline(
        pipeline_name=f"shopsphere_{source}_{destination}",
        destination=make_destination(destination),
        dataset_name=dataset,
        pipelines_dir=str(Path(pipelines_dir()).resolve()),
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


def stored_columns(pipeline: dlt.Pipeline, table: str) -> dict[str, dict[str, Any]] | None:
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
            f"{source}: could not finish the interrupted load: {root_message(exc)}"
        ) from None
    recovered: list[TableMetrics] = []
    with pipeline.sql_client() as client:
        for spec in tables:
            if stored_columns(pipeline, spec.name) is None:
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


def root_message(exc: BaseException) -> str:
    while exc.__cause__ is not None and not isinstance(exc, LoaderError):
        exc = exc.__cause__
    return str(exc).strip().splitlines()[0][:400] if str(exc).strip() else exc.__class__.__name__


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
    return [t.name for t in tables if stored_columns(pipeline, t.name) is not None]


def drop_loaded_package(pipeline: dlt.Pipeline, load_id: str) -> None:
    """Retention: a package raw committed is deleted from disk. Its files are the rows in
    clear text, PII included, and raw holds them now."""
    with contextlib.suppress(FileNotFoundError):
        pipeline._get_load_storage().delete_loaded_package(load_id)


def pipelines_dir() -> str:
    return settings().pipelines_dir
