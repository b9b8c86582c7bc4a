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
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema.typing import TSchemaContractDict

from loaders.engine.deletes import DeleteContext
from loaders.engine.raw_tables import (
    column_hints,
    reload_marker,
    tombstones,
    with_deleted_keys_variant,
)
from loaders.engine.sql_readers import ANY_ZERO, SqlReader, ZeroDateError, target_schema, to_target
from loaders.shared.errors import LoaderError
from loaders.shared.timestamps import to_us, utc_text
from loaders.shared.types import (
    Progress,
    SourceColumn,
    TableMetrics,
    TablePlan,
    TableSpec,
)


def _version_keys(table: pa.Table, spec: TableSpec) -> pa.Array:
    """One string per row: primary key values and cursor (µs), joined by '|'."""
    parts = [pc.cast(table[k], pa.string()) for k in spec.primary_key]
    cursor = table[spec.cursor]
    if pa.types.is_timestamp(cursor.type):
        cursor = pc.cast(pc.cast(cursor, pa.timestamp("us", tz="UTC")), pa.int64())
    parts.append(pc.cast(cursor, pa.string()))
    return pc.binary_join_element_wise(*parts, "|")


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

    @dlt.resource(**_resource_args(plan))
    def rows() -> Iterator[pa.Table]:
        started = time.perf_counter()
        state = dlt.current.resource_state()
        conditions, known = _incremental_window(reader, plan, deletes, state, lag_seconds)
        table = reader.qualified(spec.name)
        extent = _extent(reader, plan, table, conditions)
        count, high_water = extent.count, extent.high_water
        if high_water is not None:
            # Read up to the cursor as it stood now; later changes belong to the next run.
            conditions.append(
                f"{reader.quote(spec.cursor)} <= {reader.timestamp_literal(to_us(high_water))}"
            )
        filters = " and ".join(conditions) or "1 = 1"
        ranges = _chunk_ranges(extent, chunk_rows)
        pk = reader.quote(spec.primary_key[0])

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
            progress.update(source, spec.name, plan.mode, done, count, started)
            if data.num_rows:
                yielded = True
                yield data
        yield from _after_read(plan, deletes, metrics, yielded)
        _advance_state(state, high_water, stream_position)
        metrics.extract_seconds += time.perf_counter() - started

    return with_deleted_keys_variant(rows, spec.name)


@dataclasses.dataclass(frozen=True)
class Extent:
    """What a run reads of a table: its row count and cursor maximum, and for a single integer
    key the key's range (None otherwise), which the read is split into chunks by."""

    count: int
    high_water: Any
    lo: int | None = None
    hi: int | None = None


def _resource_args(plan: TablePlan) -> dict[str, Any]:
    """The dlt resource of a table: replaced by a full read or a backfill, merged by key (delete
    and insert) incrementally; new columns evolve the table, a column's type never changes."""
    spec = plan.spec
    contract: TSchemaContractDict = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}
    return {
        "name": spec.name,
        "table_name": spec.name,
        "primary_key": list(spec.primary_key),
        "write_disposition": (
            "replace"
            if plan.mode in ("full", "backfill")
            else {"disposition": "merge", "strategy": "delete-insert"}
        ),
        "columns": column_hints(plan.columns, spec, merge=plan.mode == "incremental"),
        "schema_contract": contract,
    }


def _chunk_ranges(extent: Extent, chunk_rows: int) -> list[tuple[int, int] | None]:
    """The key ranges a read is split into (one unbounded read when the key is not a single
    integer or the rows fit one chunk; none for no rows)."""
    if not extent.count:
        return []
    if extent.lo is not None and extent.hi is not None and extent.count > chunk_rows:
        return list(_ranges(extent.lo, extent.hi, extent.count, chunk_rows))
    return [None]


def _incremental_window(
    reader: SqlReader,
    plan: TablePlan,
    deletes: DeleteContext,
    state: dict[str, Any],
    lag_seconds: float,
) -> tuple[list[str], pa.Array | None]:
    """An incremental read's conditions (the cursor, less the lag window) and the versions of
    the window's rows raw already holds ('key|cursor'), which the read skips; none for a full
    read."""
    spec = plan.spec
    if plan.mode != "incremental":
        return [], None
    since = int(state["cursor_us"]) - int(lag_seconds * 1_000_000)
    conditions = [f"{reader.quote(spec.cursor)} >= {reader.timestamp_literal(since)}"]
    raw = deletes.raw
    raw_versions = raw.select(
        spec.name,
        [*spec.primary_key, spec.cursor],
        f"{raw.column(spec.cursor)} >= '{utc_text(since)}+00:00'",
    )
    known = None
    if raw_versions is not None and raw_versions.num_rows:
        known = _version_keys(raw_versions, spec)
    return conditions, known


def _extent(reader: SqlReader, plan: TablePlan, table: str, conditions: list[str]) -> Extent:
    spec = plan.spec
    where = f" where {' and '.join(conditions)}" if conditions else ""
    cursor = reader.quote(spec.cursor)
    single_int_key = len(spec.primary_key) == 1 and pa.types.is_integer(
        next(c.arrow_type for c in plan.columns if c.name == spec.primary_key[0])
    )
    if single_int_key:
        pk = reader.quote(spec.primary_key[0])
        lo, hi, count, high_water = reader.fetch_one(
            f"select min({pk}), max({pk}), count(*), max({cursor}) from {table}{where}"
        )
        if count:
            return Extent(int(count), high_water, int(lo), int(hi))
        return Extent(0, high_water)
    count, high_water = reader.fetch_one(f"select count(*), max({cursor}) from {table}{where}")
    return Extent(int(count or 0), high_water)


def _after_read(
    plan: TablePlan, deletes: DeleteContext, metrics: TableMetrics, yielded: bool
) -> Iterator[Any]:
    """What follows a table's rows in its load package: an empty table when a full read found
    none (raw still gets every declared column), the reload marker of a full read, the
    tombstones of an incremental one."""
    spec = plan.spec
    if not yielded and plan.mode != "incremental":
        yield target_schema(plan.columns, spec.primary_key).empty_table()
    if plan.mode != "incremental":
        yield reload_marker(plan)
    if plan.mode == "incremental" and spec.deletes is not None:
        gone = deletes.gone(spec.name)
        if gone is not None and gone.num_rows:
            metrics.rows_deleted += gone.num_rows
            yield from tombstones(spec.name, gone)


def _advance_state(
    state: dict[str, Any], high_water: Any, stream_position: dict[str, Any] | None
) -> None:
    """The cursor moves to what this read saw; a copy in stream mode keeps the stream's
    position taken before it."""
    if high_water is not None:
        state["cursor_us"] = max(int(state.get("cursor_us", 0)), to_us(high_water))
    else:  # an empty table: later rows are all new, read incrementally from the start
        state.setdefault("cursor_us", 0)
    if stream_position is not None:
        state["stream"] = dict(stream_position)
    else:  # read by the cursor: a stream position kept would hold a slot's WAL back
        state.pop("stream", None)
