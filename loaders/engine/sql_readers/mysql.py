"""MySQL/MariaDB: connectorx (Rust, releases the GIL), read in primary-key ranges; zero dates
turned into NULL in the query (connectorx cannot parse them) and counted."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from loaders.engine.sql_readers.base import (
    ANY_ZERO,
    UTC_US,
    ZERO,
    ZERO_FLAG,
    SqlReader,
    ZeroDateError,
    decimal_type,
)
from loaders.shared.errors import LoaderError, TransientLoaderError
from loaders.shared.types import SourceColumn


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

    def epoch_us(self, expression: str) -> str:
        # Arithmetic on the stored value: naive DATETIMEs are UTC, whatever the session's zone.
        return f"timestampdiff(microsecond, '1970-01-01 00:00:00', {expression})"

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
