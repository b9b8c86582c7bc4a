"""What every SQL reader shares: the connection, the reader interface, and the cast of each
batch to the types raw holds (safe casts: a value that would lose data fails)."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
from dlt.common.configuration.specs import ConnectionStringCredentials

from loaders.shared.errors import LoaderError
from loaders.shared.timestamps import utc_text
from loaders.shared.types import SourceColumn

UTC_US = pa.timestamp("us", tz="UTC")
ZERO_FLAG = "__zero__"
ZERO = "zero"  # the column holds '0000-00-00' values
ANY_ZERO = "any"  # the column holds zero-in-date values ('2020-00-15') too


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
        """The credentials URL, parsed by dlt's connection-string credentials (SQLAlchemy
        style: driver part optional, password percent-encoded, `?host=` for a socket)."""
        try:
            creds = ConnectionStringCredentials(url)
        except Exception:  # its message would not name the source; the URL holds a password
            raise LoaderError(
                f"{source}: the credentials are not a database URL like "
                "driver://user@host:port/database (check the port and the escaping)"
            ) from None
        scheme = creds.drivername.split("+", 1)[0].replace("mariadb", "mysql")
        scheme = "postgresql" if scheme.startswith("postgres") else scheme
        if scheme not in ("mysql", "postgresql", "sqlite"):
            raise LoaderError(
                f"{source}: unsupported credentials URL scheme {creds.drivername!r}; "
                "use mysql+pymysql://, postgresql:// or sqlite:///"
            )
        query = {k: v if isinstance(v, str) else v[-1] for k, v in (creds.query or {}).items()}
        if scheme == "sqlite":
            return cls(scheme, None, None, None, None, creds.database or "", query)
        return cls(
            scheme,
            creds.host or query.get("host"),
            creds.port,
            creds.username,
            creds.password,
            creds.database or "",
            query,
        )

    def where(self) -> str:
        host = self.host or "localhost"
        return host if host.startswith("/") else f"{host}:{self.port or ''}".rstrip(":")


def sql_literal(value: Any) -> str:
    """A key value as a SQL literal (numbers bare, anything else quoted)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


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

    def timestamp_literal(self, us: int) -> str:
        """A literal comparable with the cursor column, for microseconds since the epoch (UTC)."""
        return f"'{utc_text(us)}'"

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

    def epoch_us(self, expression: str) -> str | None:
        """Integer microseconds since the epoch (UTC) of a timestamp column; None where the
        dialect cannot say it exactly."""
        return None

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
