"""SQLite (the quickstart's stand-in for the shop): the standard library, typed by the declared
column types."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from loaders.engine.sql_readers.base import (
    MAX_DECIMAL_DIGITS,
    UTC_US,
    ZERO_FLAG,
    SqlReader,
)
from loaders.shared.errors import LoaderError
from loaders.shared.types import SourceColumn


def _sqlite_arrow_type(declared: str) -> tuple[pa.DataType, bool]:
    """(arrow type, may hold zero dates) from a declared column type."""
    t = declared.lower()
    if t.startswith("tinyint(1)") or t.startswith("bool"):
        return pa.bool_(), False
    m = re.match(r"(decimal|numeric)\((\d+),\s*(\d+)\)", t)
    if m:
        return pa.decimal128(min(int(m[2]), MAX_DECIMAL_DIGITS), int(m[3])), False
    if t.startswith(("datetime", "timestamp")):
        return UTC_US, True
    if t.startswith("date"):
        return pa.date32(), True
    if "int" in t:
        return pa.int64(), False
    if t.startswith(("real", "float", "double")):
        return pa.float64(), False
    return pa.string(), False


class SQLiteReader(SqlReader):
    dialect = "sqlite"
    always_rewrite_zero_dates = True

    def _connect(self) -> sqlite3.Connection:
        path = self.conn.database
        if not os.path.exists(path):
            raise LoaderError(
                f"{self.source}: SQLite file {path} does not exist; check the source credentials"
            )
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def check(self) -> None:
        self._connect().close()

    def columns(self, table: str) -> list[SourceColumn]:
        with contextlib.closing(self._connect()) as conn:
            rows = conn.execute(f"pragma table_info({self.quote(table)})").fetchall()
        if not rows:
            raise self._missing_table(table)
        out = []
        for _, name, declared, notnull, _, _ in rows:
            arrow, zero = _sqlite_arrow_type(declared or "")
            out.append(SourceColumn(name, declared, arrow, not notnull, zero_dates=zero))
        return out

    def quote(self, ident: str) -> str:
        return '"' + ident.replace('"', '""') + '"'

    def key_range(self, expression: str, size: int) -> str:
        return f"({expression} / {size})"  # integer division: SQLite has no floor() everywhere

    def select_list(
        self, columns: Sequence[SourceColumn], rewrite: Mapping[str, str] | None = None
    ) -> str:
        parts = []
        for c in columns:
            q = self.quote(c.name)
            if c.zero_dates:
                zero = (
                    f"({q} like '0000-%' or substr({q}, 6, 2) = '00' or substr({q}, 9, 2) = '00')"
                )
                parts.append(f"case when {zero} then null else {q} end as {q}")
                parts.append(f"{zero} as {self.quote(ZERO_FLAG + c.name)}")
            elif pa.types.is_decimal(c.arrow_type):
                # SQLite keeps such values as REAL: render them at the declared scale, exactly.
                parts.append(f"printf('%.{c.arrow_type.scale}f', {q}) as {q}")
            else:
                parts.append(q)
        return ", ".join(parts)

    def read(self, sql: str) -> Iterator[pa.Table]:
        with contextlib.closing(self._connect()) as conn:
            cur = conn.execute(sql)
            names = [d[0] for d in cur.description]
            while True:
                rows = cur.fetchmany(100_000)
                if not rows:
                    break
                cols = list(zip(*rows, strict=True))
                yield pa.table({n: pa.array(list(v)) for n, v in zip(names, cols, strict=True)})

    def fetch_one(self, sql: str) -> tuple[Any, ...]:
        with contextlib.closing(self._connect()) as conn:
            row = conn.execute(sql).fetchone()
        return tuple(row or ())
