"""One table's changes from the source's stream as a dlt resource: merged on the primary key,
deletes as dlt hard deletes, in the types raw holds.

The images come collapsed per key (loaders.engine.streams): one upsert or one delete per key
the day touched. They are cast with the same safe casts as a table read (`to_target`), so a
value that does not fit fails its table exactly as it would in a full load. A TRUNCATE deletes
every key raw holds that was not written again after it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import dlt
import duckdb
import pyarrow as pa

from loaders.engine.deletes import RawAccess
from loaders.engine.raw_tables import merge_resource, tombstones
from loaders.engine.sql_readers import SqlReader, sql_literal, to_target
from loaders.engine.streams.base import UNCHANGED, TableChanges
from loaders.engine.streams.mysql import ZEROS
from loaders.shared.types import SourceColumn, TableMetrics, TablePlan

KEYS_PER_QUERY = 1_000  # keys named in one query on raw or the source


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamptz"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    names = {
        pa.bool_(): "boolean",
        pa.int16(): "smallint",
        pa.int32(): "integer",
        pa.int64(): "bigint",
        pa.float32(): "real",
        pa.float64(): "double",
        pa.date32(): "date",
        pa.binary(): "blob",
    }
    return names.get(t, "varchar")


def _typed(values: list[Any], column: SourceColumn) -> pa.Array:
    """An Arrow array of Python values as a driver decodes them (MySQL's binlog)."""
    t = column.arrow_type
    if pa.types.is_boolean(t):
        return pa.array([None if v is None else bool(v) for v in values], pa.bool_())
    if pa.types.is_timestamp(t):  # naive times are UTC, as in a table read
        return pa.array(values, pa.timestamp("us"))
    if pa.types.is_string(t):
        return pa.array(
            [v.decode("utf-8") if isinstance(v, bytes) else v for v in values], pa.string()
        )
    return pa.array(values, t)


def _from_text(table: pa.Table, columns: Sequence[SourceColumn]) -> pa.Table:
    """PostgreSQL's text output cast to each column's type, by DuckDB (which reads PostgreSQL's
    literals: 't'/'f', '2026-01-01 10:00:00+00', '\\x0102', numerics exactly)."""
    con = duckdb.connect()
    try:
        con.execute("set timezone = 'UTC'")
        con.register("images", table)
        select = []
        for c in columns:
            q = '"' + c.name.replace('"', '""') + '"'
            if pa.types.is_binary(c.arrow_type):
                select.append(f"from_hex(substr({q}, 3)) as {q}")
            elif pa.types.is_string(c.arrow_type):
                select.append(q)
            else:
                select.append(f"cast({q} as {_duck_type(c.arrow_type)}) as {q}")
        return con.execute(f"select {', '.join(select)} from images").fetch_arrow_table()
    finally:
        con.close()


def images_to_arrow(
    images: Sequence[dict[str, Any]], columns: Sequence[SourceColumn], as_text: bool
) -> pa.Table:
    """Row images (dicts by column name) as an Arrow table of the columns, before the safe cast
    to raw's types: Python values as the binlog decodes them, or PostgreSQL's text output."""
    if as_text:
        text = {c.name: pa.array([r.get(c.name) for r in images], pa.string()) for c in columns}
        return _from_text(pa.table(text), columns)
    return pa.table({c.name: _typed([r.get(c.name) for r in images], c) for c in columns})


def _key_table(
    keys: Sequence[tuple[Any, ...]], plan: TablePlan, as_text: bool, source: str
) -> pa.Table:
    """Primary keys as an Arrow table in raw's types."""
    spec = plan.spec
    by_name = {c.name: c for c in plan.columns}
    columns = [by_name[k] for k in spec.primary_key]
    rows = [dict(zip(spec.primary_key, k, strict=True)) for k in keys]
    table = images_to_arrow(rows, columns, as_text)
    return to_target(table, columns, source, spec.name, spec.primary_key)[0]


def _typed_keys(
    images: Sequence[dict[str, Any]], plan: TablePlan, as_text: bool, source: str
) -> list[tuple[Any, ...]]:
    if not images:
        return []
    keys = [tuple(r[k] for k in plan.spec.primary_key) for r in images]
    table = _key_table(keys, plan, as_text, source)
    return list(zip(*table.to_pydict().values(), strict=True))


def _where_keys(raw: RawAccess, keys: Sequence[str], values: Sequence[tuple[Any, ...]]) -> str:
    if len(keys) == 1:
        column = raw.column(keys[0])
        return f"{column} in ({', '.join(sql_literal(v[0]) for v in values)})"
    columns = [raw.column(k) for k in keys]
    return " or ".join(
        "(" + " and ".join(f"{c} = {sql_literal(x)}" for c, x in zip(columns, v, strict=True)) + ")"
        for v in values
    )


def _held(raw: RawAccess, table: str, keys: Sequence[str], values: list[tuple[Any, ...]]) -> int:
    """How many of these keys raw holds (a delete of a row raw never had removes nothing)."""
    if not raw.has(table) or not values:
        return 0
    held = 0
    for i in range(0, len(values), KEYS_PER_QUERY):
        chunk = values[i : i + KEYS_PER_QUERY]
        rows = raw.rows(
            f"select count(*) from {raw.table(table)} where {_where_keys(raw, keys, chunk)}"
        )
        held += int(rows[0][0]) if rows else 0
    return held


def _refetch(
    reader: SqlReader, plan: TablePlan, keys: list[tuple[Any, ...]], source: str
) -> pa.Table | None:
    """Rows the stream sent without some values (PostgreSQL's unchanged TOAST), read again."""
    spec = plan.spec
    parts = []
    q = reader.quote
    for i in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[i : i + KEYS_PER_QUERY]
        where = " or ".join(
            "("
            + " and ".join(
                f"{q(k)} = {sql_literal(v)}" for k, v in zip(spec.primary_key, key, strict=True)
            )
            + ")"
            for key in chunk
        )
        sql = f"select {reader.select_list(plan.columns)} from {reader.qualified(spec.name)} where {where}"
        parts += [
            to_target(t, plan.columns, source, spec.name, spec.primary_key)[0]
            for t in reader.read(sql)
        ]
    return pa.concat_tables(parts) if parts else None


def stream_table_resource(
    source: str,
    plan: TablePlan,
    changes: TableChanges,
    position: dict[str, Any],
    metrics: TableMetrics,
    raw: RawAccess,
    reader: SqlReader,
    as_text: bool,
) -> Any:
    """The dlt resource that merges one table's changes and stores the stream's position."""
    spec = plan.spec

    @merge_resource(plan)
    def rows() -> Iterator[pa.Table]:
        started = time.perf_counter()
        state = dlt.current.resource_state()
        metrics.rows_extracted += changes.events
        images = changes.upserts
        partial = [r for r in images if any(v is UNCHANGED for v in r.values())]
        if partial:
            images = [r for r in images if not any(v is UNCHANGED for v in r.values())]
        if images:
            metrics.zero_dates += sum(int(r.get(ZEROS, 0)) for r in images)
            typed = images_to_arrow(images, plan.columns, as_text)
            data, _ = to_target(typed, plan.columns, source, spec.name, spec.primary_key)
            metrics.rows_loaded += data.num_rows
            yield data
        if partial:
            keys = [tuple(r[k] for k in spec.primary_key) for r in partial]
            again = _refetch(reader, plan, keys, source)
            if again is not None and again.num_rows:
                metrics.rows_loaded += again.num_rows
                yield again
        gone = changes.deleted_keys
        if changes.truncated and raw.has(spec.name):
            written = set(_typed_keys(changes.upserts, plan, as_text, source))
            held = raw.select(spec.name, list(spec.primary_key))
            if held is not None:
                gone += [
                    tuple(str(x) for x in k) if as_text else k
                    for k in zip(*(held[c].to_pylist() for c in spec.primary_key), strict=True)
                    if k not in written
                ]
        if gone:
            keys = _key_table(gone, plan, as_text, source)
            metrics.rows_deleted += _held(
                raw, spec.name, spec.primary_key, list(zip(*keys.to_pydict().values(), strict=True))
            )
            yield from tombstones(spec.name, keys)
        state["stream"] = dict(position)
        metrics.extract_seconds += time.perf_counter() - started

    return rows
