"""Row images of a binlog row event, decoded by a reader compiled once per table map.

mysql-replication decodes a row value by value through its packet wrapper (a method call, a
type dispatch and a struct lookup per value): about 7k row images a second here, most of a
day's read. The event's header, the table map and the protocol stay the library's; the rows
are read here from the event's bytes with one small reader per column, chosen when the table
map is first seen. The values are the library's, value for value (tests/loaders/
test_binlog_rows.py decodes the same events both ways): the common types of an OLTP schema
(integers, floats, DECIMAL, DATETIME(n), TIMESTAMP(n), DATE, CHAR/VARCHAR/TEXT, ENUM). A table
with any other type (JSON, SET, BIT, TIME, YEAR, spatial, the pre-5.6 temporal formats) is
decoded by the library, as is an image that is not FULL (`library_rows`, which also turns the
library's JSON, TIME and SET values into what raw takes).
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from pymysql.charset import charset_by_name
from pymysqlreplication.constants import FIELD_TYPE
from pymysqlreplication.row_event import UpdateRowsEvent

ZERO_DATE_SOURCES = ("out of datetime range", "out of date range", "out of datetime2 range")
ZERO = object()  # a zero date ('0000-00-00'): NULL in raw, counted
Reader = Callable[[bytes, int], tuple[Any, int]]
_COMPRESSED = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)  # bytes for 0..9 leftover decimal digits


def _fixed(fmt: str) -> Reader:
    unpack = struct.Struct(fmt).unpack_from
    size = struct.calcsize(fmt)

    def read(d: bytes, p: int) -> tuple[Any, int]:
        return unpack(d, p)[0], p + size

    return read


def _int24(signed: bool) -> Reader:
    def read(d: bytes, p: int) -> tuple[Any, int]:
        return int.from_bytes(d[p : p + 3], "little", signed=signed), p + 3

    return read


def _text(prefix: int, encoding: str | None, errors: str) -> Reader:
    def read(d: bytes, p: int) -> tuple[Any, int]:
        n = int.from_bytes(d[p : p + prefix], "little")
        p += prefix
        raw = d[p : p + n]
        return (raw.decode(encoding, errors) if encoding else raw.decode(errors=errors)), p + n

    return read


def _decimal(precision: int, scale: int) -> Reader:
    integral = precision - scale
    whole_int, left_int = divmod(integral, 9)
    whole_frac, left_frac = divmod(scale, 9)
    head, tail = _COMPRESSED[left_int], _COMPRESSED[left_frac]
    size = head + 4 * (whole_int + whole_frac) + tail

    def read(d: bytes, p: int) -> tuple[Any, int]:
        b = bytearray(d[p : p + size])
        negative = not b[0] & 0x80
        b[0] ^= 0x80
        if negative:
            b = bytearray(x ^ 0xFF for x in b)
        text = "-" if negative else ""
        i = 0
        if head:
            text += str(int.from_bytes(b[:head], "big"))
            i = head
        for _ in range(whole_int):
            text += f"{int.from_bytes(b[i : i + 4], 'big'):09d}"
            i += 4
        text += "."
        for _ in range(whole_frac):
            text += f"{int.from_bytes(b[i : i + 4], 'big'):09d}"
            i += 4
        if tail:
            text += f"{int.from_bytes(b[i : i + tail], 'big'):0{left_frac}d}"
        return Decimal(text), p + size

    return read


def _fraction(fsp: int) -> tuple[int, Callable[[bytes, int], int]]:
    """The bytes of a temporal's fractional seconds and how to read them as microseconds."""
    size = (fsp + 1) // 2
    scale = 10 ** (6 - fsp)

    def micros(d: bytes, p: int) -> int:
        if not size:
            return 0
        value = int.from_bytes(d[p : p + size], "big", signed=True)
        if fsp % 2:
            value = int(value / 10)
        return int(value * scale)

    return size, micros


def _datetime2(fsp: int) -> Reader:
    size, micros = _fraction(fsp)
    datetime = dt.datetime

    def read(d: bytes, p: int) -> tuple[Any, int]:
        v = int.from_bytes(d[p : p + 5], "big")
        year_month = (v >> 22) & 0x1FFFF
        try:
            value = datetime(
                year_month // 13,
                year_month % 13,
                (v >> 17) & 0x1F,
                (v >> 12) & 0x1F,
                (v >> 6) & 0x3F,
                v & 0x3F,
                max(micros(d, p + 5), 0),
            )
        except ValueError:
            return ZERO, p + 5 + size
        return value, p + 5 + size

    return read


def _timestamp2(fsp: int) -> Reader:
    size, micros = _fraction(fsp)
    utc = dt.datetime.utcfromtimestamp

    def read(d: bytes, p: int) -> tuple[Any, int]:
        value = utc(int.from_bytes(d[p : p + 4], "big", signed=True))
        us = micros(d, p + 4)
        return (value.replace(microsecond=us) if us > 0 else value), p + 4 + size

    return read


def _date(d: bytes, p: int) -> tuple[Any, int]:
    v = int.from_bytes(d[p : p + 3], "little")
    year, month, day = (v >> 9) & 0x7FFF, (v >> 5) & 0x0F, v & 0x1F
    if not (year and month and day):
        return ZERO, p + 3
    return dt.date(year, month, day), p + 3


def _enum(labels: Sequence[str] | None, size: int) -> Reader:
    def read(d: bytes, p: int) -> tuple[Any, int]:
        index = int.from_bytes(d[p : p + size], "little")
        return (labels[index] if labels else None), p + size

    return read


def _encoding(column: Any) -> str | None:
    """The codec the library decodes a column with (None: UTF-8); raises LookupError when
    Python has none (the library then keeps the bytes: not decoded here)."""
    name = column.character_set_name
    if name is None:
        return None
    charset = charset_by_name(name)
    encoding = charset.encoding if charset else name
    "".encode(encoding)  # LookupError: not a codec
    return str(encoding)


def column_reader(column: Any, errors: str = "strict") -> Reader | None:
    """The reader of one column of a table map, or None when the library must decode it."""
    t, unsigned = column.type, bool(getattr(column, "unsigned", False))
    ints = {
        FIELD_TYPE.TINY: "b",
        FIELD_TYPE.SHORT: "h",
        FIELD_TYPE.LONG: "i",
        FIELD_TYPE.LONGLONG: "q",
    }
    if t in ints:
        code = ints[t]
        return _fixed("<" + (code.upper() if unsigned else code))
    if t == FIELD_TYPE.INT24:
        return _int24(signed=not unsigned)
    if t == FIELD_TYPE.FLOAT:
        return _fixed("<f")
    if t == FIELD_TYPE.DOUBLE:
        return _fixed("<d")
    if t == FIELD_TYPE.NEWDECIMAL:
        return _decimal(column.precision, column.decimals)
    if t == FIELD_TYPE.DATETIME2:
        return _datetime2(column.fsp)
    if t == FIELD_TYPE.TIMESTAMP2:
        return _timestamp2(column.fsp)
    if t == FIELD_TYPE.DATE:
        return _date
    if t == FIELD_TYPE.ENUM:
        return _enum(column.enum_values, column.size)
    if t in (FIELD_TYPE.VARCHAR, FIELD_TYPE.STRING, FIELD_TYPE.BLOB):
        try:
            encoding = _encoding(column)
        except LookupError:
            return None
        if t == FIELD_TYPE.BLOB:
            return _text(column.length_size, encoding, errors)
        return _text(2 if column.max_length > 255 else 1, encoding, errors)
    return None


class RowsReader:
    """The row images of one table map's row events: (image, zero dates) per image."""

    def __init__(self, columns: Sequence[Any], errors: str = "strict") -> None:
        readers = [column_reader(c, errors) for c in columns]
        self.names = [c.name for c in columns]
        self.supported = bool(columns) and all(readers) and all(self.names)
        self._columns = list(zip(self.names, readers, strict=True))
        self._null_bytes = (len(columns) + 7) // 8
        self._present = b"\xff" * (len(columns) // 8) + (
            bytes([(1 << (len(columns) % 8)) - 1]) if len(columns) % 8 else b""
        )

    def full(self, bitmap: bytes) -> bool:
        """Whether an event's columns-present bitmap names every column (a FULL image)."""
        return bytes(bitmap) == self._present

    def images(self, data: bytes, pos: int, end: int) -> list[tuple[dict[str, Any], int]]:
        """Every image from `pos` to `end` of an event's bytes, in order (an update's before and
        after images alternate)."""
        out = []
        columns = self._columns
        null_bytes = self._null_bytes
        while pos < end:
            nulls = int.from_bytes(data[pos : pos + null_bytes], "little")
            pos += null_bytes
            row: dict[str, Any] = {}
            zeros = 0
            bit = 1
            for name, read in columns:
                if nulls & bit:
                    row[name] = None
                else:
                    value, pos = read(data, pos)  # type: ignore[misc]
                    if value is ZERO:
                        value = None
                        zeros += 1
                    row[name] = value
                bit <<= 1
            out.append((row, zeros))
        if pos != end:
            raise ValueError(f"a row event's images end at byte {pos}, not {end}")
        return out


def library_rows(event: Any) -> list[tuple[dict[str, Any] | None, tuple[dict[str, Any], int]]]:
    """A row event's rows as the library decodes them: (before image or None, (image, zero
    dates)), for the tables whose types RowsReader does not take."""
    if event is None:
        return []
    if isinstance(event, UpdateRowsEvent):
        return [
            (r["before_values"], _image(r["after_values"], r.get("after_none_sources", {})))
            for r in event.rows
        ]
    return [(None, _image(r["values"], r.get("none_sources", {}))) for r in event.rows]


def _image(values: dict[str, Any], none_sources: Mapping[str, str]) -> tuple[dict[str, Any], int]:
    """A row image as raw takes it (JSON as text, TIME as text, zero dates NULL) and how many
    zero dates it had."""
    row = {}
    for name, value in values.items():
        if isinstance(value, dict | list):  # MySQL's binary JSON (MariaDB's is text)
            value = json.dumps(_plain(value), separators=(", ", ": "), default=_json_default)
        elif isinstance(value, dt.timedelta):
            value = _time_text(value)
        elif isinstance(value, set):
            value = ",".join(sorted(value))
        row[name] = value
    return row, sum(1 for s in none_sources.values() if str(s) in ZERO_DATE_SOURCES)


def _plain(value: Any) -> Any:
    """Binary JSON as mysql-replication decodes it, with bytes keys and strings, as plain JSON."""
    if isinstance(value, dict):
        return {
            (k.decode("utf-8", "replace") if isinstance(k, bytes) else k): _plain(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def _time_text(value: dt.timedelta) -> str:
    seconds = value.total_seconds()
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    whole = int(seconds)
    text = f"{sign}{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    micros = round((seconds - whole) * 1_000_000)
    return text + (f".{micros:06d}" if micros else "")
