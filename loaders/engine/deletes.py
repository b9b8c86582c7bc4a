"""Finding rows the source deleted, which no cursor can show.

A table declared with `KeyScan` has its keys compared with raw's on every incremental run.
A single integer key (the usual case) is compared range by range: both sides answer with the
count and the sum of their keys per range of `RANGE_KEYS` consecutive key values, and keys are
read only in the ranges where raw holds rows and the two disagree. A run therefore reads
a few thousand figures plus the keys of the ranges that lost a row, not every key: whatever
removed the row (a purged test order, a payment deleted by hand under an order that stays live,
an item removed without touching its order). Other keys (composite ones) are compared whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from loaders.engine.sql_readers import SqlReader, to_target
from loaders.shared.types import SourceColumn

RANGE_KEYS = 1_000  # key values per compared range
RANGES_PER_QUERY = 500  # key ranges read in one query


class RawAccess:
    """What raw already holds, through one SQL session on the pipeline's destination.

    Opened on first use and closed by the runner once extraction ends (before the load opens
    its own connections). Tables that raw does not have yet read as None.
    """

    def __init__(self, pipeline: Any, existing: Sequence[str]) -> None:
        self._pipeline = pipeline
        self._existing = set(existing)
        self._client: Any = None

    def _sql(self) -> Any:
        if self._client is None:
            self._client = self._pipeline.sql_client()
            self._client.open_connection()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close_connection()
            self._client = None

    def has(self, table: str) -> bool:
        return table in self._existing

    def select(self, table: str, columns: Sequence[str], where: str = "") -> pa.Table | None:
        if not self.has(table):
            return None
        client = self._sql()
        cols = ", ".join(client.escape_column_name(c) for c in columns)
        sql = f"select {cols} from {client.make_qualified_table_name(table)}"
        if where:
            sql += f" where {where}"
        with client.execute_query(sql) as cur:
            result = cur.arrow()
        if result is None:  # no rows: some destinations answer with nothing at all
            return pa.table({c: pa.array([], pa.null()) for c in columns})
        return (
            pa.Table.from_batches(result.to_batches())
            if not isinstance(result, pa.Table)
            else result
        )

    def column(self, name: str) -> str:
        return str(self._sql().escape_column_name(name))

    def epoch_us(self, expression: str) -> str:
        """Microseconds since the epoch of a timestamp column, in the destination's SQL."""
        if self._pipeline.destination.destination_name == "snowflake":
            return f"date_part(epoch_microsecond, {expression})"
        return f"epoch_us({expression})"

    def table(self, name: str) -> str:
        return str(self._sql().make_qualified_table_name(name))

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of a query on raw, as tuples (no Arrow: every destination answers this)."""
        return [tuple(r) for r in self._sql().execute_sql(sql) or []]

    def query(self, sql: str) -> pa.Table:
        """The result of a query on raw, as Arrow (empty: a table without columns)."""
        with self._sql().execute_query(sql) as cur:
            result = cur.arrow()
        if result is None:
            return pa.table({})
        return (
            pa.Table.from_batches(result.to_batches())
            if not isinstance(result, pa.Table)
            else result
        )


def anti_join(
    rows: pa.Table, keep: pa.Table, on: Sequence[str], keep_on: Sequence[str] | None = None
) -> pa.Table:
    """Rows of `rows` whose `on` columns match no row of `keep` (on `keep_on`, default the same).

    A vectorised hash anti-join in an in-memory DuckDB, using every core: millions of keys in
    a fraction of the time pyarrow's is_in needs to build its hash set.
    """
    keep_on = list(keep_on or on)
    con = duckdb.connect()
    try:
        con.register("rows_", rows)
        con.register("keep_", keep.select(keep_on))
        cond = " and ".join(f'r."{a}" = k."{b}"' for a, b in zip(on, keep_on, strict=True))
        return con.execute(
            f"select r.* from rows_ r anti join keep_ k on {cond}"
        ).fetch_arrow_table()
    finally:
        con.close()


class DeleteContext:
    """Per source run: the reader, raw, and how each table's keys are compared."""

    def __init__(
        self,
        source: str,
        reader: SqlReader,
        raw: RawAccess,
        columns: dict[str, list[SourceColumn]],
        primary_keys: dict[str, tuple[str, ...]],
    ) -> None:
        self.source = source
        self.reader = reader
        self.raw = raw
        self.columns = columns
        self.primary_keys = primary_keys

    def _key_schema(self, table: str, names: Sequence[str]) -> pa.Schema:
        by_name = {c.name: c for c in self.columns[table]}
        return pa.schema([pa.field(n, by_name[n].arrow_type, nullable=False) for n in names])

    def _read_keys(self, table: str, names: Sequence[str], where: str = "") -> pa.Table:
        by_name = {c.name: c for c in self.columns[table]}
        cols = [by_name[n] for n in names]
        select = ", ".join(self.reader.quote(n) for n in names)
        sql = f"select {select} from {self.reader.qualified(table)}" + (
            f" where {where}" if where else ""
        )
        parts = [to_target(t, cols, self.source, table, names)[0] for t in self.reader.read(sql)]
        return pa.concat_tables(parts) if parts else self._key_schema(table, names).empty_table()

    def _raw(self, table: str, names: Sequence[str], where: str = "") -> pa.Table | None:
        rows = self.raw.select(table, names, where)
        return None if rows is None else rows.cast(self._key_schema(table, names))

    def gone(self, table: str) -> pa.Table | None:
        """Keys raw holds that the source deleted; None or an empty table when there are none."""
        keys = self.primary_keys[table]
        if not self.raw.has(table):
            return None
        key_type = self._key_schema(table, keys).field(keys[0]).type
        if len(keys) == 1 and pa.types.is_integer(key_type):
            return self._gone_in_ranges(table, keys[0])
        raw_keys = self._raw(table, keys)
        if raw_keys is None or raw_keys.num_rows == 0:
            return None
        return anti_join(raw_keys, self._read_keys(table, keys), keys)

    def differing_ranges(
        self, table: str, key: str, cursor: str | None = None, held_only: bool = False
    ) -> list[int]:
        """The ranges of RANGE_KEYS key values whose figures differ between the source and raw:
        count and sum of keys, and with `cursor` the sum of its microseconds too (a row the
        source changed that raw holds in another version). `held_only`: ranges raw holds rows
        in (where a deleted row can be)."""
        q = self.reader.quote(key)
        column = self.raw.column(key)
        source_extra = raw_extra = ""
        micros = self.reader.epoch_us(self.reader.quote(cursor)) if cursor else None
        if cursor and micros:
            source_extra = f", sum({micros}) as c"
            raw_extra = f", sum({self.raw.epoch_us(self.raw.column(cursor))}) as c"
        source = _range_sums(
            self.reader.read(
                f"select {self.reader.key_range(q, RANGE_KEYS)} as r, count(*) as n, "
                f"sum({q}) as s{source_extra} from {self.reader.qualified(table)} group by 1"
            )
        )
        raw = _range_sums(
            [
                self.raw.query(
                    f"select floor({column} / {RANGE_KEYS}) as r, count(*) as n, sum({column}) as s"
                    f"{raw_extra} from {self.raw.table(table)} group by 1"
                )
            ]
        )
        ranges = set(raw) if held_only else set(raw) | set(source)
        return sorted(r for r in ranges if source.get(r) != raw.get(r))

    def _gone_in_ranges(self, table: str, key: str) -> pa.Table | None:
        q = self.reader.quote(key)
        column = self.raw.column(key)
        differing = self.differing_ranges(table, key, held_only=True)
        if not differing:
            return None
        parts = []
        for i in range(0, len(differing), RANGES_PER_QUERY):
            ranges = merged(differing[i : i + RANGES_PER_QUERY])
            source_where = " or ".join(f"{q} between {lo} and {hi}" for lo, hi in ranges)
            raw_where = " or ".join(f"{column} between {lo} and {hi}" for lo, hi in ranges)
            raw_keys = self._raw(table, [key], raw_where)
            if raw_keys is not None and raw_keys.num_rows:
                parts.append(
                    anti_join(raw_keys, self._read_keys(table, [key], source_where), [key])
                )
        return pa.concat_tables(parts) if parts else None


def _range_sums(results: Any) -> dict[int, tuple[int, ...]]:
    """{range: (count, sum of keys[, sum of cursor microseconds])} from (r, n, s[, c]) results."""
    out: dict[int, tuple[int, ...]] = {}
    for result in results:
        if "r" not in result.column_names:  # no rows: some destinations answer with nothing
            continue
        columns = [result[c].to_pylist() for c in ("r", "n", "s", "c") if c in result.column_names]
        for r, *figures in zip(*columns, strict=True):
            out[int(r)] = tuple(int(f or 0) for f in figures)
    return out


def merged(ranges: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive range numbers as key intervals [lo, hi]."""
    out: list[tuple[int, int]] = []
    for r in ranges:
        lo, hi = r * RANGE_KEYS, (r + 1) * RANGE_KEYS - 1
        if out and out[-1][1] + 1 == lo:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out
