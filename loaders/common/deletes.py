"""Finding rows the source deleted, which no cursor can show.

Two declared strategies:

- `KeyScan`: fetch every key from the source (one narrow query) and compare with raw.
- `WithParent(parent, foreign_key)`: for rows that live and die with a parent row (order
  items and payments with their order). A child is gone when its parent is gone (raw children
  whose parent key the source no longer has: the parent's key scan, fetched once per run,
  answers for every child table), or when it was removed under a parent that changed since
  this table was last read (removing an item changes its order's totals, so the order is
  touched): only those parents' children are compared. This avoids scanning the children's
  keys, which outnumber the parents' several times.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .sql_readers import SourceColumn, SqlReader, to_target

IN_LIST_CHUNK = 5_000


@dataclasses.dataclass(frozen=True)
class KeyScan:
    """Compare all of the table's keys with raw."""


@dataclasses.dataclass(frozen=True)
class WithParent:
    """Rows deleted with (or removed under) their parent row."""

    parent: str
    foreign_key: str


DeleteStrategy = KeyScan | WithParent


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


def _anti(
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
    """Per source run: the reader, raw, and the source key sets fetched so far."""

    def __init__(
        self,
        source: str,
        reader: SqlReader,
        raw: RawAccess,
        columns: dict[str, list[SourceColumn]],
        primary_keys: dict[str, tuple[str, ...]],
        cursors: dict[str, str],
    ) -> None:
        self.source = source
        self.reader = reader
        self.raw = raw
        self.columns = columns
        self.primary_keys = primary_keys
        self.cursors = cursors
        self._source_keys: dict[str, pa.Table] = {}

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

    def source_keys(self, table: str) -> pa.Table:
        if table not in self._source_keys:
            self._source_keys[table] = self._read_keys(table, self.primary_keys[table])
        return self._source_keys[table]

    def _raw(self, table: str, names: Sequence[str], where: str = "") -> pa.Table | None:
        rows = self.raw.select(table, names, where)
        return None if rows is None else rows.cast(self._key_schema(table, names))

    def gone(
        self, table: str, strategy: DeleteStrategy, since_us: int, timestamp_literal: str
    ) -> pa.Table | None:
        """Keys raw holds that the source deleted; None or an empty table when there are none."""
        keys = self.primary_keys[table]
        if isinstance(strategy, KeyScan):
            raw_keys = self._raw(table, keys)
            if raw_keys is None or raw_keys.num_rows == 0:
                return None
            return _anti(raw_keys, self.source_keys(table), keys)
        parent, fk = strategy.parent, strategy.foreign_key
        (parent_key,) = self.primary_keys[parent]
        raw_rows = self._raw(table, [*keys, fk])
        if raw_rows is None or raw_rows.num_rows == 0:
            return None
        orphaned = _anti(raw_rows, self.source_keys(parent), [fk], [parent_key])
        # Parents touched since this table was last read: compare their children one by one.
        cursor = self.reader.quote(self.cursors[parent])
        touched = self._read_keys(parent, [parent_key], f"{cursor} >= {timestamp_literal}")[
            parent_key
        ]
        removed_parts = []
        if len(touched):
            under = raw_rows.filter(pc.is_in(raw_rows[fk], value_set=touched))
            # Only parents raw holds children of can have lost one (a new order cannot).
            ids = pc.unique(under[fk]).to_pylist()
            src_parts = []
            for i in range(0, len(ids), IN_LIST_CHUNK):
                in_list = ", ".join(str(int(v)) for v in ids[i : i + IN_LIST_CHUNK])
                src_parts.append(
                    self._read_keys(table, keys, f"{self.reader.quote(fk)} in ({in_list})")
                )
            if src_parts:
                src_children = pa.concat_tables(src_parts)
                removed_parts.append(_anti(under.select(list(keys)), src_children, keys))
        gone = pa.concat_tables([orphaned.select(list(keys)), *removed_parts])
        if gone.num_rows == 0:
            return gone
        return gone.group_by(list(keys)).aggregate([])
