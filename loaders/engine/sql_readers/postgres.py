"""PostgreSQL: DuckDB's postgres scanner (binary COPY, filter pushdown), streamed as record batches."""

from __future__ import annotations

import contextlib
import os
import sysconfig
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from loaders.engine.sql_readers.base import (
    MAX_DECIMAL_DIGITS,
    UTC_US,
    ConnInfo,
    SqlReader,
    decimal_type,
)
from loaders.shared.errors import LoaderError, TransientLoaderError
from loaders.shared.timestamps import utc_text
from loaders.shared.types import SourceColumn


def _pg_arrow_type(
    data_type: str, precision: Any, scale: Any, where: tuple[str, str, str]
) -> pa.DataType:
    simple = {
        "smallint": pa.int16(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "real": pa.float32(),
        "double precision": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp with time zone": UTC_US,
        "timestamp without time zone": UTC_US,
    }
    if data_type in simple:
        return simple[data_type]
    if data_type == "numeric":
        return decimal_type(precision, scale, *where)
    return pa.string()  # text, varchar, char, json, jsonb, uuid, enums and the rest (cast to text)


_PG_NATIVE = {"text", "character varying", "character", "json", "jsonb", "uuid"}


class PostgresReader(SqlReader):
    dialect = "postgresql"

    def __init__(self, conn: ConnInfo, source: str, schema: str) -> None:
        super().__init__(conn, source)
        self.schema = schema
        self._duck: Any = None
        self._as_text: dict[str, list[SourceColumn]] = {}  # tables read through postgres_query

    def libpq(self) -> str:
        c = self.conn
        items = {
            "host": c.host,
            "port": c.port,
            "user": c.user,
            "password": c.password,
            "dbname": c.database,
        }
        return " ".join(f"{k}={v}" for k, v in items.items() if v not in (None, ""))

    def _connect(self) -> Any:
        import psycopg2

        try:
            return psycopg2.connect(self.libpq(), connect_timeout=10)
        except psycopg2.OperationalError as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            if "password authentication failed" in text or "no password supplied" in text:
                raise LoaderError(
                    f"{self.source}: password authentication failed for user {self.conn.user!r} at "
                    f"{self.conn.where()}; check the source credentials"
                ) from exc
            if "does not exist" in text:
                raise LoaderError(f"{self.source}: {text} (at {self.conn.where()})") from exc
            raise TransientLoaderError(
                f"{self.source}: cannot connect to PostgreSQL at {self.conn.where()} ({text}); "
                "check that the server is up and the credentials' host and port"
            ) from exc

    def check(self) -> None:
        self._connect().close()

    def columns(self, table: str) -> list[SourceColumn]:
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    """select column_name, data_type, udt_name, numeric_precision, numeric_scale, is_nullable
                       from information_schema.columns where table_schema = %s and table_name = %s
                       order by ordinal_position""",
                    (self.schema, table),
                )
                rows = cur.fetchall()
        finally:
            conn.close()
        if not rows:
            raise LoaderError(
                f"{self.source}.{table}: table {self.schema}.{table} not found in database "
                f"{self.conn.database!r} at {self.conn.where()}; check the table name or the credentials' database"
            )
        out = []
        for name, data_type, udt, precision, scale, nullable in rows:
            arrow = _pg_arrow_type(data_type, precision, scale, (self.source, table, name))
            out.append(
                SourceColumn(
                    name=name,
                    source_type=data_type if data_type != "USER-DEFINED" else udt,
                    arrow_type=arrow,
                    nullable=nullable == "YES",
                    is_json=data_type in ("json", "jsonb"),
                    # DuckDB's scanner reads numerics wider than 38 digits, or unconstrained,
                    # as DOUBLE: such tables are read through PostgreSQL itself, as text.
                    read_as_text=data_type == "numeric"
                    and (precision is None or int(precision) > MAX_DECIMAL_DIGITS),
                )
            )
        if any(c.read_as_text for c in out):
            self._as_text[table] = out
        else:
            self._as_text.pop(table, None)
        return out

    def quote(self, ident: str) -> str:
        return '"' + ident.replace('"', '""') + '"'

    def qualified(self, table: str) -> str:
        name = f"{self.quote(self.schema)}.{self.quote(table)}"
        columns = self._as_text.get(table)
        if columns is None:
            return f"pg.{name}"
        select = ", ".join(
            f"{self.quote(c.name)}::text as {self.quote(c.name)}"
            if c.read_as_text
            else self.quote(c.name)
            for c in columns
        )
        query = f"select {select} from {name}".replace("'", "''")
        return f"postgres_query('pg', '{query}')"

    def select_list(
        self, columns: Sequence[SourceColumn], rewrite: Mapping[str, str] | None = None
    ) -> str:
        parts = []
        for c in columns:
            q = self.quote(c.name)
            # DuckDB reads the common types natively; anything exotic comes over as text.
            native = c.arrow_type != pa.string() or c.source_type in _PG_NATIVE
            parts.append(q if native else f"{q}::varchar as {q}")
        return ", ".join(parts)

    def epoch_us(self, expression: str) -> str:
        return f"(extract(epoch from {expression}) * 1000000)::bigint"

    def timestamp_literal(self, us: int) -> str:
        return f"'{utc_text(us)}+00'::timestamptz"

    def _duckdb(self) -> Any:
        if self._duck is None:
            import duckdb

            con = duckdb.connect()
            ext_dir = os.path.join(sysconfig.get_paths()["purelib"], "duckdb_ext", "extensions")
            con.execute("set extension_directory = ?", [ext_dir])
            con.execute("set autoinstall_known_extensions = false")
            con.execute("set autoload_known_extensions = false")
            con.execute("set timezone = 'UTC'")
            try:
                con.execute("load postgres")
            except duckdb.Error as exc:
                raise LoaderError(
                    f"{self.source}: DuckDB's postgres extension is missing ({exc}); reinstall with scripts/bootstrap.sh"
                ) from None
            dsn = self.libpq().replace("'", "''")
            con.execute(f"attach '{dsn}' as pg (type postgres, read_only)")
            self._duck = con
        return self._duck

    def read(self, sql: str) -> Iterator[pa.Table]:
        import duckdb

        try:
            batches = self._duckdb().execute(sql).fetch_record_batch(200_000)
            for batch in batches:
                yield pa.Table.from_batches([batch])
        except duckdb.Error as exc:
            raise LoaderError(
                f"{self.source}: query failed: {str(exc).splitlines()[0][:300]}"
            ) from None

    def fetch_one(self, sql: str) -> tuple[Any, ...]:
        row = self._duckdb().execute(sql).fetchone()
        return tuple(row or ())

    def close(self) -> None:
        if self._duck is not None:
            with contextlib.suppress(Exception):
                self._duck.close()
            self._duck = None
