"""One SQL table as a dlt resource: full or incremental, exact, bounded in memory.

How a table lands is declared by a `TableSpec` (primary key, cursor, whether hard deletes
are detected) and decided per run by a `TablePlan`:

- full: every row, in primary-key ranges, written with `replace`;
- incremental: rows whose cursor moved, written with `merge` (delete-insert on the primary key);
- backfill: a full reload because the source grew a column raw does not have yet (`replace`,
  loaded through staging so the table is swapped atomically).

Incremental reads re-read a lag window behind the stored cursor (transactions commit after
their `updated_at` is stamped) and drop the rows raw already holds in that exact version, so
a run with nothing new loads nothing. Each read is bounded above by the cursor's maximum as
seen when the read started, which becomes the new cursor: rows changing while the table is
read are picked up by the next run, never skipped. The cursor lives in dlt's resource state,
committed with the load package, so a crash never advances it past unloaded data.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema.typing import TColumnSchema, TSchemaContractDict

from loaders.engine.deletes import DeleteContext
from loaders.engine.sql_readers import ANY_ZERO, SqlReader, ZeroDateError, target_schema, to_target
from loaders.shared.errors import LoaderError
from loaders.shared.timestamps import to_us, utc_text
from loaders.shared.types import (
    DELETED_COLUMN,
    RELOADED_COLUMN,
    Progress,
    SourceColumn,
    TableMetrics,
    TablePlan,
    TableSpec,
    deleted_keys_table,
)


def _version_keys(table: pa.Table, spec: TableSpec) -> pa.Array:
    """One string per row: primary key values and cursor (µs), joined by '|'."""
    parts = [pc.cast(table[k], pa.string()) for k in spec.primary_key]
    cursor = table[spec.cursor]
    if pa.types.is_timestamp(cursor.type):
        cursor = pc.cast(pc.cast(cursor, pa.timestamp("us", tz="UTC")), pa.int64())
    parts.append(pc.cast(cursor, pa.string()))
    return pc.binary_join_element_wise(*parts, "|")


class _JsonAsTextFilter(logging.Filter):
    """Arrow has no json type: a column the source declares json (`SourceColumn.is_json`)
    reaches dlt as text, and dlt warns on every batch of its table that "several column hints
    were different", then keeps its own hint, json, which is what lands. Nobody can act on that
    warning, so it is dropped, for the resources of tables with a json column only."""

    tables: ClassVar[set[str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "several column hints were different" not in message or not any(
            message.startswith(f"In resource: {table},") for table in self.tables
        )


logging.getLogger("dlt").addFilter(_JsonAsTextFilter())


def column_hints(
    columns: Sequence[SourceColumn], spec: TableSpec, merge: bool
) -> list[TColumnSchema]:
    hints: list[TColumnSchema] = []
    for c in columns:
        hint: TColumnSchema = {"name": c.name, "nullable": c.name not in spec.primary_key}
        if c.name in spec.primary_key:
            hint["primary_key"] = True
        if c.is_json:
            hint["data_type"] = "json"
            _JsonAsTextFilter.tables.add(spec.name)
        hints.append(hint)
    if merge:  # the tombstone flag only means something to a merge
        hints.append(
            {"name": DELETED_COLUMN, "data_type": "bool", "nullable": True, "hard_delete": True}
        )
    return hints


def tombstones(table: str, keys: pa.Table) -> Iterator[Any]:
    """Keys of rows the source deleted: flagged for dlt's hard delete of the raw rows, and
    appended to `_deleted_<table>` in the same load package, so that staging deletes by key
    instead of comparing itself with the whole raw table. Keys are never null in the
    tombstones: the schema says so, or dlt warns that the batch's hints differ."""
    schema = pa.schema([f.with_nullable(False) for f in keys.schema])
    yield keys.cast(schema).append_column(
        DELETED_COLUMN, pa.array([True] * keys.num_rows, pa.bool_())
    )
    yield deleted_keys(table, keys, reloaded=False)


def deleted_keys(table: str, keys: pa.Table, reloaded: bool) -> Any:
    """Rows for `_deleted_<table>`: the keys a load deleted, or one row with null keys and
    `_reloaded` set for a load that replaced the whole table (staging then compares itself
    with raw once). Appended in the load's own package: it commits with the load or not at all."""
    schema = pa.schema([f.with_nullable(True) for f in keys.schema])
    rows = keys.cast(schema).append_column(
        pa.field(RELOADED_COLUMN, pa.bool_()), pa.array([reloaded] * keys.num_rows, pa.bool_())
    )
    # Its key columns are plain nullable ones here (the table's resource registered the
    # variant with no columns: `with_deleted_keys_variant`).
    columns: list[TColumnSchema] = [
        {"name": f.name, "nullable": True, "primary_key": False} for f in rows.schema
    ]
    hints = dlt.mark.make_hints(
        table_name=deleted_keys_table(table),
        write_disposition="append",
        columns=columns,
        primary_key=[],
    )
    return dlt.mark.with_hints(rows, hints, create_table_variant=True)


def with_deleted_keys_variant(resource: Any, table: str) -> Any:
    """`resource`, with `_deleted_<table>` registered as a table variant that has no columns of
    its own. Left to itself, dlt would start the variant from the table's hints, and every load
    that wrote deleted keys would warn that the table's other columns received no data."""
    resource.apply_hints(
        table_name=deleted_keys_table(table), columns={}, create_table_variant=True
    )
    return resource


def reload_marker(plan: TablePlan) -> Any:
    """The `_deleted_<table>` row of a load that replaces the table (full, backfill)."""
    schema = target_schema(plan.columns, plan.spec.primary_key)
    keys = pa.table({k: pa.nulls(1, schema.field(k).type) for k in plan.spec.primary_key})
    return deleted_keys(plan.spec.name, keys, reloaded=True)


def merge_resource(plan: TablePlan) -> Callable[[Callable[..., Any]], Any]:
    """The dlt resource decorator of a table merged on its key, deletes as hard deletes (the
    stream's changes, the reconciliation's repairs)."""
    spec = plan.spec
    contract: TSchemaContractDict = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}
    decorate = dlt.resource(
        name=spec.name,
        table_name=spec.name,
        primary_key=list(spec.primary_key),
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=column_hints(plan.columns, spec, merge=True),
        schema_contract=contract,
    )
    return lambda rows: with_deleted_keys_variant(decorate(rows), spec.name)


def _ranges(lo: int, hi: int, count: int, chunk_rows: int) -> list[tuple[int, int]]:
    chunks = max(1, math.ceil(count / chunk_rows))
    step = max(1, math.ceil((hi - lo + 1) / chunks))
    return [(a, min(hi, a + step - 1)) for a in range(lo, hi + 1, step)]


def _read_chunks(
    reader: SqlReader,
    make_query: Callable[[int, dict[str, str]], str],
    chunk_where: Callable[[int], str],
    n: int,
    columns: Sequence[SourceColumn],
    table: str,
    state: dict[str, Any],
    convert: Callable[[pa.Table], tuple[pa.Table, int]],
    where_all: str,
) -> Iterator[tuple[pa.Table, int]]:
    """Read queries 0..n-1 in order, fetching the next while the caller works on the current.

    MySQL zero dates, which the driver cannot read (it panics), are found before reading: one
    aggregate over the rows this run reads (`where_all`) tells which date columns hold them, and
    those are rewritten in every query (remembered in `state`, so later runs skip the check for
    them). Should one still turn up (a row changed between the check and the read), its columns
    are found in that batch, rewritten, and the batch is read again.
    """
    candidates = [c.name for c in columns if c.zero_dates]
    known = state.get("zero_date_columns", {})
    rewrite: dict[str, str] = (
        dict.fromkeys(candidates, ANY_ZERO) if reader.always_rewrite_zero_dates else dict(known)
    )
    unknown = [c for c in candidates if rewrite.get(c) != ANY_ZERO]
    if n and unknown:
        found = reader.zero_date_columns(table, where_all, unknown)
        upgraded = {c: level for c, level in found.items() if rewrite.get(c) != level}
        if upgraded:
            rewrite = {**rewrite, **upgraded}
            state["zero_date_columns"] = dict(sorted(rewrite.items()))

    def fetch(i: int, rewrite: dict[str, str]) -> list[tuple[pa.Table, int]]:
        # Read and cast on the prefetch thread (both release the GIL): the caller's thread
        # only hands finished batches to dlt.
        return [convert(t) for t in reader.read(make_query(i, rewrite))]

    with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as pool:
        pending = pool.submit(fetch, 0, rewrite) if n else None
        for i in range(n):
            assert pending is not None
            try:
                tables = pending.result()
            except ZeroDateError as exc:
                found = reader.zero_date_columns(
                    table, chunk_where(i), [c for c in candidates if rewrite.get(c) != ANY_ZERO]
                )
                upgraded = {c: level for c, level in found.items() if rewrite.get(c) != level}
                if not upgraded:
                    raise LoaderError(
                        f"{reader.source}.{table}: unreadable date value: {str(exc)[:200]}"
                    ) from None
                rewrite = {**rewrite, **upgraded}
                state["zero_date_columns"] = dict(sorted(rewrite.items()))
                tables = fetch(i, rewrite)
            if i + 1 < n:
                pending = pool.submit(fetch, i + 1, rewrite)
            yield from tables


def sql_table_resource(
    source: str,
    reader: SqlReader,
    plan: TablePlan,
    deletes: DeleteContext,
    metrics: TableMetrics,
    progress: Progress,
    lag_seconds: float,
    chunk_rows: int,
    stream_position: dict[str, Any] | None = None,
) -> Any:
    """The dlt resource that lands one table according to its plan; a copy in stream mode
    stores the stream's position taken before it (`stream_position`)."""
    spec = plan.spec
    contract: TSchemaContractDict = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}
    disposition: Any = (
        "replace"
        if plan.mode in ("full", "backfill")
        else {"disposition": "merge", "strategy": "delete-insert"}
    )

    @dlt.resource(
        name=spec.name,
        table_name=spec.name,
        primary_key=list(spec.primary_key),
        write_disposition=disposition,
        columns=column_hints(plan.columns, spec, merge=plan.mode == "incremental"),
        schema_contract=contract,
    )
    def rows() -> Iterator[pa.Table]:
        started = time.perf_counter()
        state = dlt.current.resource_state()
        q = reader.quote
        cursor = q(spec.cursor)
        conditions: list[str] = []
        known: pa.Array | None = None
        raw = deletes.raw
        since = 0
        if plan.mode == "incremental":
            since = int(state["cursor_us"]) - int(lag_seconds * 1_000_000)
            conditions.append(f"{cursor} >= {reader.timestamp_literal(since)}")
            # Rows of the lag window that raw already holds in this very version are skipped.
            raw_versions = raw.select(
                spec.name,
                [*spec.primary_key, spec.cursor],
                f"{raw.column(spec.cursor)} >= '{utc_text(since)}+00:00'",
            )
            if raw_versions is not None and raw_versions.num_rows:
                known = _version_keys(raw_versions, spec)
        where = f" where {' and '.join(conditions)}" if conditions else ""
        table = reader.qualified(spec.name)
        single_int_key = len(spec.primary_key) == 1 and pa.types.is_integer(
            next(c.arrow_type for c in plan.columns if c.name == spec.primary_key[0])
        )
        pk = q(spec.primary_key[0])
        if single_int_key:
            lo, hi, count, high_water = reader.fetch_one(
                f"select min({pk}), max({pk}), count(*), max({cursor}) from {table}{where}"
            )
        else:
            count, high_water = reader.fetch_one(
                f"select count(*), max({cursor}) from {table}{where}"
            )
        if high_water is not None:
            high_water_us = to_us(high_water)
            # Read up to the cursor as it stood now; later changes belong to the next run.
            conditions.append(f"{cursor} <= {reader.timestamp_literal(high_water_us)}")
        filters = " and ".join(conditions) or "1 = 1"
        ranges: list[tuple[int, int] | None] = [None] if count else []
        if single_int_key and count and count > chunk_rows:
            ranges = list(_ranges(int(lo), int(hi), int(count), chunk_rows))

        def chunk_where(i: int) -> str:
            bounds = ranges[i]
            return (
                filters
                if bounds is None
                else f"{filters} and {pk} between {bounds[0]} and {bounds[1]}"
            )

        def make_query(i: int, rewrite: dict[str, str]) -> str:
            return f"select {reader.select_list(plan.columns, rewrite)} from {table} where {chunk_where(i)}"

        def convert(batch: pa.Table) -> tuple[pa.Table, int]:
            return to_target(batch, plan.columns, source, spec.name, spec.primary_key)

        done = 0
        yielded = False
        for data, zeros in _read_chunks(
            reader,
            make_query,
            chunk_where,
            len(ranges),
            plan.columns,
            spec.name,
            state,
            convert,
            filters,
        ):
            metrics.rows_extracted += data.num_rows
            metrics.zero_dates += zeros
            done += data.num_rows
            if known is not None and data.num_rows:
                data = data.filter(pc.invert(pc.is_in(_version_keys(data, spec), value_set=known)))
            metrics.rows_loaded += data.num_rows
            progress.update(source, spec.name, plan.mode, done, int(count or 0), started)
            if data.num_rows:
                yielded = True
                yield data
        if not yielded and plan.mode != "incremental":
            # An empty source table still gets its raw table, with every declared column.
            yield target_schema(plan.columns, spec.primary_key).empty_table()
        if plan.mode != "incremental":
            yield reload_marker(plan)
        if plan.mode == "incremental" and spec.deletes is not None:
            gone = deletes.gone(spec.name)
            if gone is not None and gone.num_rows:
                metrics.rows_deleted += gone.num_rows
                yield from tombstones(spec.name, gone)
        if high_water is not None:
            state["cursor_us"] = max(int(state.get("cursor_us", 0)), high_water_us)
        else:  # an empty table: later rows are all new, read incrementally from the start
            state.setdefault("cursor_us", 0)
        if stream_position is not None:
            state["stream"] = dict(stream_position)
        else:  # read by the cursor: a stream position kept would hold a slot's WAL back
            state.pop("stream", None)
        metrics.extract_seconds += time.perf_counter() - started

    return with_deleted_keys_variant(rows, spec.name)


def dlt_type_of(column: SourceColumn) -> tuple[str, int | None, int | None]:
    """(data_type, precision, scale) dlt stores for a source column."""
    from dlt.common.libs.pyarrow import get_column_type_from_py_arrow

    if column.is_json:
        return ("json", None, None)
    t = get_column_type_from_py_arrow(column.arrow_type)
    precision = t.get("precision")
    scale = t.get("scale")
    if t["data_type"] == "timestamp":
        precision = None  # the destination may report its own timestamp precision
    return (str(t["data_type"]), precision, scale)
