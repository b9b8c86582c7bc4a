"""Read SQL tables as Arrow, fast and with exact types.

One reader per dialect, chosen by the credentials' URL scheme:

- MySQL/MariaDB: connectorx (Rust, releases the GIL), read in primary-key ranges so memory
  stays bounded; MySQL zero dates are turned into NULL in the query (connectorx cannot parse
  them) and counted.
- PostgreSQL: DuckDB's postgres scanner (binary COPY, filter pushdown), streamed as record
  batches.
- SQLite (the quickstart's stand-in for the shop): the standard library, typed by the
  declared column types.

Every reader derives the Arrow type of each column from the source's catalog
(`information_schema`, `PRAGMA table_info`); the table resource casts each batch to it with
safe casts, so a value that would lose data fails instead of being coerced.
"""

from __future__ import annotations

from loaders.engine.sql_readers.base import (
    ANY_ZERO,
    ColumnTypeError,
    ConnInfo,
    SqlReader,
    ZeroDateError,
    sql_literal,
    target_schema,
    to_target,
)
from loaders.engine.sql_readers.mysql import MySQLReader
from loaders.engine.sql_readers.postgres import PostgresReader
from loaders.engine.sql_readers.sqlite import SQLiteReader

__all__ = [
    "ANY_ZERO",
    "ColumnTypeError",
    "ConnInfo",
    "SqlReader",
    "ZeroDateError",
    "open_reader",
    "sql_literal",
    "target_schema",
    "to_target",
]


def open_reader(url: str, source: str, pg_schema: str = "public") -> SqlReader:
    """The reader for a credentials URL."""
    conn = ConnInfo.parse(url, source)
    if conn.scheme == "mysql":
        return MySQLReader(conn, source)
    if conn.scheme == "postgresql":
        return PostgresReader(conn, source, pg_schema)
    return SQLiteReader(conn, source)
