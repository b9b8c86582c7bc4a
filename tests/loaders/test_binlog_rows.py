"""The binlog's row images as the loaders' own reader decodes them (loaders.engine.streams.
mysql_rows) equal mysql-replication's, value for value, on a private MariaDB's binlog: every
type the reader takes, at its edges (NULLs, zero dates, negative and wide decimals, unsigned
maxima, fractional seconds of every precision, multi-byte text, long VARCHARs), in inserts,
updates and deletes, read through the loaders' event loop (binlog_events) beside a table it
skips; and a table with a type it does not take is left to the library."""

from __future__ import annotations

import secrets
from typing import Any
from unittest import mock

import pytest
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import QueryEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from loaders.engine.streams import binlog_events
from loaders.engine.streams.mysql_rows import RowsReader, library_rows
from loaders.shared.errors import LoaderError
from tests.fixtures.services import mysql_connect
from world.urls import DbUrl

pytestmark = pytest.mark.mysql

TYPES = """
    id bigint unsigned not null primary key,
    t tinyint, tu tinyint unsigned, b tinyint(1), s smallint, su smallint unsigned,
    m mediumint, mu mediumint unsigned, i int, iu int unsigned, g bigint,
    f float, d double,
    d1 decimal(12,2), d2 decimal(30,10), d3 decimal(5,5), d4 decimal(18,0), d5 decimal(65,30),
    dt0 datetime, dt3 datetime(3), dt6 datetime(6), dt1 datetime(1),
    ts0 timestamp null, ts6 timestamp(6) null, dd date,
    c char(3), v varchar(40), vl varchar(400), tx text, lt longtext,
    e enum('a','bb','ccc'), l1 varchar(20) character set latin1
"""
ROWS = [
    "(1, -128, 255, 1, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,"
    " -9223372036854775808, 1.5, -2.25, -1234567890.12, 12345678901234567890.0123456789,"
    " -0.00001, 999999999999999999, -12345678901234567890123456789012345.123456789012345678901234567890,"
    " '2026-01-02 03:04:05', '1999-12-31 23:59:59.999', '2026-12-03 17:00:00.000001',"
    " '2000-01-01 00:00:00.5', '2026-06-01 12:00:00', '2026-06-01 12:00:00.123456', '2026-02-28',"
    " 'abc', 'Zoë ☃ 東京', repeat('x', 300), 'some text', repeat('é', 70000), 'ccc', 'café')",
    "(2, 127, 0, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, 0,"
    " 0.00, -0.0000000001, 0.5, -1, 0, '0000-00-00 00:00:00', '1000-01-01 00:00:00.000',"
    " '9999-12-31 23:59:59.999999', '2026-12-03 00:00:00.0', '1970-01-01 00:00:01',"
    " '2030-01-01 00:00:00.999999', '0000-00-00', '', '', '', '', '', 'a', '')",
    "(3, null, null, null, null, null, null, null, null, null, null, null, null, null, null,"
    " null, null, null, null, null, null, null, null, null, null, null, null, null, null,"
    " null, null, null)",
]


def _reader(url: DbUrl, database: str, start: tuple[str, int]) -> BinLogStreamReader:
    return BinLogStreamReader(
        connection_settings={
            "host": url.host,
            "port": url.port,
            "user": url.user,
            "passwd": url.password or "",
        },
        server_id=2_000_000_000 + secrets.randbelow(100_000_000),
        log_file=start[0],
        log_pos=start[1],
        resume_stream=True,
        blocking=False,
        only_schemas=[database],
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, QueryEvent],
        freeze_schema=True,
    )


def _theirs(url: DbUrl, database: str, start: tuple[str, int]) -> list[tuple[str, list]]:
    """Every row event after `start` as mysql-replication decodes it: (table, images)."""
    stream = _reader(url, database, start)
    out = []
    try:
        for event in stream:
            if isinstance(event, QueryEvent):
                continue
            images = []
            for r in event.rows:
                if isinstance(event, UpdateRowsEvent):
                    images += [r["before_values"], r["after_values"]]
                else:
                    images.append(r["values"])
            out.append((event.table, images))
    finally:
        stream.close()
    return out


def _ours(
    url: DbUrl, database: str, start: tuple[str, int], tables: list[str]
) -> list[tuple[str, list, bool]]:
    """The same events as the loaders read them: (table, images, whether mysql_rows read them),
    with each image's count of zero dates."""
    stream = _reader(url, database, start)
    decoded: list[bool] = []

    def library(event: Any) -> list:
        decoded.append(False)
        return library_rows(event)

    out = []
    try:
        with mock.patch.object(binlog_events, "library_rows", library):
            for event in binlog_events.FastEvents(stream, database, tables):
                if isinstance(event, binlog_events.Rows):
                    images = []
                    for before, image in event.rows:
                        images += ([(before, 0)] if before is not None else []) + [image]
                    out.append((event.table, images, not decoded))
                    decoded.clear()
    finally:
        stream.close()
    return out


@pytest.fixture
def binlog_db(stream_mysql_admin: DbUrl) -> Any:
    name = f"rows_{secrets.token_hex(4)}"
    conn = mysql_connect(stream_mysql_admin, None)
    with conn.cursor() as cur:
        cur.execute("set session sql_mode = ''")  # zero dates, as a legacy shop writes them
        cur.execute(f"create database {name}")
        cur.execute(f"use {name}")
        cur.execute("show master status")
        start = cur.fetchone()
    yield conn, name, (str(start[0]), int(start[1]))
    with conn.cursor() as cur:
        cur.execute(f"drop database {name}")
    conn.close()


def test_every_type_decodes_as_the_library_does(stream_mysql_admin: DbUrl, binlog_db: Any) -> None:
    conn, name, start = binlog_db
    with conn.cursor() as cur:
        cur.execute(f"create table every_type ({TYPES}) character set utf8mb4")
        cur.execute("create table unloaded (id int primary key, at time)")
        cur.execute(f"insert into every_type values {', '.join(ROWS)}")
        cur.execute("insert into unloaded values (1, '10:00:00')")
        cur.execute("update every_type set d1 = -d1, v = concat(v, '!'), dt6 = null where id = 1")
        cur.execute("update every_type set i = 7, dd = '2026-12-03' where id in (2, 3)")
        cur.execute("delete from every_type where id = 2")
    conn.commit()
    theirs = [e for e in _theirs(stream_mysql_admin, name, start) if e[0] == "every_type"]
    ours = _ours(stream_mysql_admin, name, start, ["every_type"])
    # a statement's rows may come in several events (binlog_row_event_max_size)
    assert [(t, [row for row, _ in images]) for t, images, _ in ours] == theirs
    assert all(fast for _, _, fast in ours)
    images = [image for _, rows, _ in ours for image in rows]
    assert len(images) == 3 + 2 + 4 + 1
    for row, zeros in images[:3]:  # row 2's zero dates are NULL and counted, row 3's NULLs not
        assert zeros == (2 if row["id"] == 2 else 0)
    first = images[0][0]  # the decoded values are what the server holds, not just the same
    assert first["tu"] == 255 and first["g"] == -9223372036854775808
    assert str(first["d5"]) == (
        "-12345678901234567890123456789012345.123456789012345678901234567890"
    )
    assert first["dt6"].microsecond == 1 and first["dt3"].microsecond == 999_000
    assert first["v"] == "Zoë ☃ 東京" and len(first["lt"]) == 70000 and first["l1"] == "café"


def test_a_table_with_another_type_is_left_to_the_library(
    stream_mysql_admin: DbUrl, binlog_db: Any
) -> None:
    conn, name, start = binlog_db
    with conn.cursor() as cur:
        cur.execute("create table other (id int primary key, at time, tags set('x','y'))")
        cur.execute("insert into other values (1, '10:00:00', 'x,y')")
        cur.execute("update other set at = '-01:30:00' where id = 1")
    conn.commit()
    assert not RowsReader([]).supported
    ours = _ours(stream_mysql_admin, name, start, ["other"])
    assert [(t, fast) for t, _, fast in ours] == [("other", False), ("other", False)]
    (_, (inserted,), _), (_, (_, after), _) = ours
    assert inserted[0] == {"id": 1, "at": "10:00:00", "tags": "x,y"}  # as raw takes them
    assert after[0]["at"] == "-01:30:00"


def test_a_row_event_nobody_can_read_fails_in_one_line(
    stream_mysql_admin: DbUrl, binlog_db: Any
) -> None:
    """MariaDB's compressed binlog events are not read by the library either: skipping them
    would lose their rows silently."""
    conn, name, start = binlog_db
    with conn.cursor() as cur:
        cur.execute("create table notes (id int primary key, body text)")
        cur.execute("set global log_bin_compress = on")
        try:
            cur.execute("insert into notes values (1, repeat('x', 1000))")
            conn.commit()
        finally:
            cur.execute("set global log_bin_compress = off")
    with pytest.raises(LoaderError, match=r"compressed row event .*log_bin_compress=OFF"):
        _ours(stream_mysql_admin, name, start, ["notes"])
