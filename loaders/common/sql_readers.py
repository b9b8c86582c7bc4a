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

import contextlib
import dataclasses
import os
import re
import sqlite3
import sysconfig
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyarrow as pa

from .errors import LoaderError, TransientLoaderError

UTC_US = pa.timestamp("us", tz="UTC")
ZERO_FLAG = "__zero__"
ZERO = "zero"  # the column holds '0000-00-00' values
ANY_ZERO = "any"  # the column holds zero-in-date values ('2020-00-15') too


@dataclasses.dataclass(frozen=True)
class SourceColumn:
    """A source column and what it becomes in Arrow (and so in raw)."""

    name: str
    source_type: str
    arrow_type: pa.DataType
    nullable: bool
    is_json: bool = False
    zero_dates: bool = False
    read_as_text: bool = False  # read as text and cast here: the driver would round it


@dataclasses.dataclass(frozen=True)
class ConnInfo:
    scheme: str
    host: str | None
    port: int | None
    user: str | None
    password: str | None
    database: str
    query: dict[str, str]

    @classmethod
    def parse(cls, url: str, source: str) -> ConnInfo:
        parts = urlsplit(url)
        scheme = (
            parts.scheme.split("+", 1)[0]
            .replace("mariadb", "mysql")
            .replace("postgres", "postgresql")
        )
        scheme = "postgresql" if scheme.startswith("postgresql") else scheme
        if scheme not in ("mysql", "postgresql", "sqlite"):
            raise LoaderError(
                f"{source}: unsupported credentials URL scheme {parts.scheme!r}; "
                "use mysql+pymysql://, postgresql:// or sqlite:///"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if scheme == "sqlite":
            return cls(
                scheme, None, None, None, None, url.split(":///", 1)[-1].split("?", 1)[0], query
            )
        return cls(
            scheme,
            parts.hostname or query.get("host"),
            parts.port,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
            parts.path.lstrip("/"),
            query,
        )

    def where(self) -> str:
        host = self.host or "localhost"
        return host if host.startswith("/") else f"{host}:{self.port or ''}".rstrip(":")


class ColumnTypeError(LoaderError):
    """A column whose type raw cannot hold: that table fails, the source's others still load."""


# Raw keeps decimals in at most 38 digits (DuckDB's and Snowflake's widest exact type).
MAX_DECIMAL_DIGITS = 38
# The scale given to PostgreSQL's unconstrained `numeric`, which declares none.
UNCONSTRAINED_NUMERIC_SCALE = 9


def decimal_type(precision: Any, scale: Any, source: str, table: str, column: str) -> pa.DataType:
    """The exact Arrow decimal raw keeps for a source DECIMAL/NUMERIC(precision, scale).

    Up to 38 digits it is the source's own type. A wider type (MySQL's DECIMAL(65,30),
    PostgreSQL's numeric(50,2)) keeps its scale in 38 digits, and an unconstrained numeric gets
    scale 9: every value that fits lands exactly, and one that does not fails its table naming
    the column and the value (see to_target). Never a float, never rounded.
    """
    if precision is None:
        return pa.decimal128(MAX_DECIMAL_DIGITS, UNCONSTRAINED_NUMERIC_SCALE)
    p, s = int(precision), int(scale or 0)
    if not 0 <= s <= MAX_DECIMAL_DIGITS:
        raise ColumnTypeError(
            f"{source}.{table}: column {column} is decimal({p},{s}); raw holds scales 0 to "
            f"{MAX_DECIMAL_DIGITS} only: cast it in a source view, or leave the table out"
        )
    return pa.decimal128(min(p, MAX_DECIMAL_DIGITS), s)


class ZeroDateError(Exception):
    """A batch held a MySQL zero date the plain query cannot carry; re-read it rewritten."""


class SqlReader(ABC):
    """Introspects and reads one source database."""

    dialect: str
    # Whether zero dates must always be rewritten in the query (else only after ZeroDateError).
    always_rewrite_zero_dates = False

    def __init__(self, conn: ConnInfo, source: str) -> None:
        self.conn = conn
        self.source = source

    @abstractmethod
    def check(self) -> None:
        """Connect once; raise LoaderError with a clear message if that fails."""

    @abstractmethod
    def columns(self, table: str) -> list[SourceColumn]:
        """The table's columns in order; LoaderError if the table does not exist."""

    @abstractmethod
    def quote(self, ident: str) -> str: ...

    @abstractmethod
    def timestamp_literal(self, us: int) -> str:
        """A literal comparable with the cursor column, for microseconds since the epoch (UTC)."""

    @abstractmethod
    def read(self, sql: str) -> Iterator[pa.Table]:
        """Run a query, yielding its result in one or more Arrow tables."""

    @abstractmethod
    def fetch_one(self, sql: str) -> tuple[Any, ...]: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def qualified(self, table: str) -> str:
        return self.quote(table)

    def select_list(
        self, columns: Sequence[SourceColumn], rewrite: Mapping[str, str] | None = None
    ) -> str:
        return ", ".join(self.quote(c.name) for c in columns)

    def key_range(self, expression: str, size: int) -> str:
        """The number of the range of `size` consecutive values an integer key falls in."""
        return f"floor({expression} / {size})"

    def zero_date_columns(
        self, table: str, where: str, candidates: Sequence[str]
    ) -> dict[str, str]:
        """Which of `candidates` hold zero dates in the rows matching `where`, and of which kind
        (ZERO: only '0000-00-00'; ANY_ZERO: zero-in-date values too). MySQL only."""
        return {}

    def _missing_table(self, table: str) -> LoaderError:
        return LoaderError(
            f"{self.source}.{table}: table not found in {self.conn.scheme} database "
            f"{self.conn.database!r} at {self.conn.where()}; check the table name or the credentials' database"
        )


def _fmt_ts(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# -- MySQL / MariaDB -------------------------------------------------------------------------


def _mysql_arrow_type(
    data_type: str, column_type: str, precision: Any, scale: Any, where: tuple[str, str, str]
) -> pa.DataType:
    unsigned = "unsigned" in column_type
    if data_type == "tinyint":
        return pa.bool_() if column_type.startswith("tinyint(1)") else pa.int16()
    ints = {
        "smallint": (pa.int16(), pa.int32()),
        "mediumint": (pa.int32(), pa.int32()),
        "int": (pa.int32(), pa.int64()),
        "integer": (pa.int32(), pa.int64()),
        "bigint": (pa.int64(), pa.int64()),
    }
    if data_type in ints:
        return ints[data_type][1 if unsigned else 0]
    if data_type == "decimal":
        return decimal_type(precision, scale, *where)
    if data_type in ("float",):
        return pa.float32()
    if data_type in ("double", "real"):
        return pa.float64()
    if data_type in ("datetime", "timestamp"):
        return UTC_US
    if data_type == "date":
        return pa.date32()
    if data_type == "year":
        return pa.int16()
    if data_type == "bit":
        return pa.bool_() if column_type == "bit(1)" else pa.int64()
    if data_type in ("binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob"):
        return pa.binary()
    return pa.string()  # char, varchar, text types, enum, set, json, time


class MySQLReader(SqlReader):
    dialect = "mysql"

    def _connect(self) -> Any:
        import pymysql

        c = self.conn
        try:
            return pymysql.connect(
                host=c.host or "127.0.0.1",
                port=c.port or 3306,
                user=c.user or "",
                password=c.password or "",
                database=c.database,
                connect_timeout=10,
                read_timeout=600,
            )
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else None
            if code == 1045:
                raise LoaderError(
                    f"{self.source}: access denied for user {c.user!r} at {c.where()}; "
                    "check the password in the source credentials"
                ) from exc
            if code == 1049:
                raise LoaderError(
                    f"{self.source}: database {c.database!r} does not exist at {c.where()}"
                ) from exc
            raise TransientLoaderError(
                f"{self.source}: cannot connect to MySQL at {c.where()} ({exc.args[-1]}); "
                "check that the server is up and the credentials' host and port"
            ) from exc

    _session: Any = None

    def _cursor(self) -> Any:
        """A cursor on the reader's one metadata connection (opened once, closed by close())."""
        if self._session is None:
            self._session = self._connect()
        return self._session.cursor()

    def close(self) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                self._session.close()
            self._session = None

    def check(self) -> None:
        if not self.conn.database:
            raise LoaderError(
                f"{self.source}: the credentials URL names no database (mysql+pymysql://user@host:3306/<db>)"
            )
        self._connect().close()

    def columns(self, table: str) -> list[SourceColumn]:
        with self._cursor() as cur:
            cur.execute(
                """select column_name, data_type, column_type, numeric_precision, numeric_scale, is_nullable
                   from information_schema.columns where table_schema = %s and table_name = %s
                   order by ordinal_position""",
                (self.conn.database, table),
            )
            rows = cur.fetchall()
        if not rows:
            raise self._missing_table(table)
        out = []
        for name, data_type, column_type, precision, scale, nullable in rows:
            arrow = _mysql_arrow_type(
                str(data_type).lower(),
                str(column_type).lower(),
                precision,
                scale,
                (self.source, table, str(name)),
            )
            out.append(
                SourceColumn(
                    name=str(name),
                    source_type=str(column_type),
                    arrow_type=arrow,
                    nullable=nullable == "YES",
                    zero_dates=str(data_type).lower() in ("datetime", "timestamp", "date"),
                    # connectorx reads decimals as decimal(38,10): a finer scale would be rounded
                    # and more than 28 integer digits would panic. Text is exact.
                    read_as_text=pa.types.is_decimal(arrow)
                    and (int(scale or 0) > 10 or int(precision) - int(scale or 0) > 28),
                )
            )
        return out

    def quote(self, ident: str) -> str:
        return f"`{ident}`"

    def timestamp_literal(self, us: int) -> str:
        return f"'{_fmt_ts(us)}'"

    def select_list(
        self, columns: Sequence[SourceColumn], rewrite: Mapping[str, str] | None = None
    ) -> str:
        parts = []
        for c in columns:
            q = self.quote(c.name)
            level = (rewrite or {}).get(c.name)
            if c.zero_dates and level:
                # connectorx cannot represent MySQL's zero dates: they become NULL here and are
                # counted through the flag column. A comparison catches '0000-00-00' cheaply;
                # zero-in-date values ('2020-00-15') need the dearer field test. Columns start
                # with neither (see ZeroDateError) and get the cheapest test that reads them.
                zero = (
                    f"({q} < '0001-01-01')"
                    if level == ZERO
                    else f"(year({q}) = 0 or month({q}) = 0 or dayofmonth({q}) = 0)"
                )
                parts.append(f"case when {zero} then null else {q} end as {q}")
                parts.append(f"{zero} as {self.quote(ZERO_FLAG + c.name)}")
            elif c.read_as_text or (
                c.arrow_type == pa.string() and c.source_type.lower().startswith("time")
            ):
                parts.append(f"cast({q} as char) as {q}")
            else:
                parts.append(q)
        return ", ".join(parts)

    def zero_date_columns(
        self, table: str, where: str, candidates: Sequence[str]
    ) -> dict[str, str]:
        if not candidates:
            return {}
        sums = []
        for c in candidates:
            q = self.quote(c)
            sums.append(f"sum({q} < '0001-01-01')")
            sums.append(f"sum({q} >= '0001-01-01' and (month({q}) = 0 or dayofmonth({q}) = 0))")
        counts = self.fetch_one(
            f"select {', '.join(sums)} from {self.qualified(table)} where {where}"
        )
        found = {}
        for i, c in enumerate(candidates):
            zero, in_date = counts[2 * i] or 0, counts[2 * i + 1] or 0
            if in_date:
                found[c] = ANY_ZERO
            elif zero:
                found[c] = ZERO
        return found

    def _cx_url(self) -> str:
        from urllib.parse import quote

        c = self.conn
        auth = quote(c.user or "", safe="") + (
            f":{quote(c.password, safe='')}" if c.password else ""
        )
        return f"mysql://{auth}@{c.host or '127.0.0.1'}:{c.port or 3306}/{c.database}"

    def read(self, sql: str) -> Iterator[pa.Table]:
        import connectorx as cx

        try:
            yield cx.read_sql(self._cx_url(), sql, return_type="arrow")
        except BaseException as exc:  # connectorx raises pyo3 panics, which are BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            if "NaiveDate" in str(exc) and "Date(" in str(exc):
                raise ZeroDateError(str(exc)) from None
            raise LoaderError(
                f"{self.source}: query failed: {str(exc).splitlines()[0][:300]}"
            ) from None

    def fetch_one(self, sql: str) -> tuple[Any, ...]:
        with self._cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
        return tuple(row or ())


# -- PostgreSQL ------------------------------------------------------------------------------


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

    def timestamp_literal(self, us: int) -> str:
        return f"'{_fmt_ts(us)}+00'::timestamptz"

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


# -- SQLite (the embedded stand-in) -----------------------------------------------------------


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

    def timestamp_literal(self, us: int) -> str:
        return f"'{_fmt_ts(us)}'"

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


def open_reader(url: str, source: str, pg_schema: str = "public") -> SqlReader:
    """The reader for a credentials URL."""
    conn = ConnInfo.parse(url, source)
    if conn.scheme == "mysql":
        return MySQLReader(conn, source)
    if conn.scheme == "postgresql":
        return PostgresReader(conn, source, pg_schema)
    return SQLiteReader(conn, source)


def _first_misfit(column: pa.ChunkedArray | pa.Array, target: pa.DataType) -> str | None:
    """The first value of `column` that cannot be cast to `target` exactly, as text (error path only)."""
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        for i in range(len(chunk)):
            value = chunk[i : i + 1]
            try:
                value.cast(target, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return repr(value[0].as_py())[:80]
    return None


def to_target(
    table: pa.Table,
    columns: Sequence[SourceColumn],
    source: str,
    name: str,
    not_null: Sequence[str] = (),
) -> tuple[pa.Table, int]:
    """Cast a batch to the columns' Arrow types (safe casts) and drop zero-date flags.

    Fields are nullable except `not_null` (the primary key), as raw declares them.

    Returns the batch and how many zero dates it carried (already NULL in the batch).
    """
    zeros = 0
    arrays = []
    for c in columns:
        flag = ZERO_FLAG + c.name
        if flag in table.column_names:
            zeros += int(pa.compute.sum(table[flag].cast(pa.int64())).as_py() or 0)
        col = table[c.name]
        try:
            if pa.types.is_timestamp(c.arrow_type) and pa.types.is_string(col.type):
                col = pa.compute.cast(col, pa.timestamp("us")).cast(c.arrow_type)
            elif pa.types.is_timestamp(col.type) and col.type.tz is None:
                col = col.cast(pa.timestamp("us")).cast(c.arrow_type)  # naive times are UTC
            elif col.type != c.arrow_type:
                col = col.cast(c.arrow_type, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            example = _first_misfit(col, c.arrow_type)
            raise ColumnTypeError(
                f"{source}.{name}: column {c.name} ({c.source_type}) holds a value that does not fit "
                f"{c.arrow_type} without losing data"
                + (f" (e.g. {example})" if example else f" ({str(exc).splitlines()[0][:160]})")
                + f"; fix the source or run --full-refresh --table {name}"
            ) from None
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=target_schema(columns, not_null)), zeros


def target_schema(columns: Sequence[SourceColumn], not_null: Sequence[str] = ()) -> pa.Schema:
    """The Arrow schema raw receives: the columns' types, nullable except `not_null`."""
    return pa.schema(
        [pa.field(c.name, c.arrow_type, nullable=c.name not in not_null) for c in columns]
    )
