"""The binlog's events as a run needs them, with the per-event cost of the day's common case cut.

mysql-replication builds a packet wrapper and an event object for every event of the binlog
(a transaction is a GTID, a table map, a row event and an XID at least), about 40 µs each here:
most of a day's read once the row images are read by `mysql_rows`. This loop takes the events
from the library's replication connection (which it opened, with its checksum and position
handshake) and reads the header itself:

- a row event of a table the run loads is read here (its table map is the library's, parsed
  once per table id) and its images by the table's `RowsReader` (or by the library's event
  when the reader does not take the table's types);
- an XID is a commit here; a table map of a known table id is skipped (`freeze_schema`);
- a row event or a table map of a table the run does not load, and every event the run has no
  use for (GTIDs, annotations, checkpoints, heartbeats), are skipped on their header;
- rotations, format descriptions, new table maps and queries (DDL, COMMIT, TRUNCATE) go through
  the library as they did, so positions, table ids and checksums are still its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator
from typing import Any

import pymysql
from pymysqlreplication.constants import BINLOG
from pymysqlreplication.packet import BinLogPacketWrapper

from loaders.engine.streams.mysql_rows import RowsReader, library_rows
from loaders.shared.errors import LoaderError

_P = "_BinLogStreamReader__"  # the reader's private attributes
WRITE, UPDATE, DELETE = "write", "update", "delete"
_ROWS = {
    BINLOG.WRITE_ROWS_EVENT_V1: WRITE,
    BINLOG.UPDATE_ROWS_EVENT_V1: UPDATE,
    BINLOG.DELETE_ROWS_EVENT_V1: DELETE,
    BINLOG.WRITE_ROWS_EVENT_V2: WRITE,
    BINLOG.UPDATE_ROWS_EVENT_V2: UPDATE,
    BINLOG.DELETE_ROWS_EVENT_V2: DELETE,
}
_V2 = {BINLOG.WRITE_ROWS_EVENT_V2, BINLOG.UPDATE_ROWS_EVENT_V2, BINLOG.DELETE_ROWS_EVENT_V2}
# What goes through the library: the events that move the position or define tables, and queries.
_LIBRARY = {
    BINLOG.ROTATE_EVENT,
    BINLOG.FORMAT_DESCRIPTION_EVENT,
    BINLOG.TABLE_MAP_EVENT,
    BINLOG.QUERY_EVENT,
}
_EXPECTED_ERRORS = (2013, 2006)  # connection lost: the library reconnects at its position
# Row events neither this loop nor the library reads: failing beats skipping their rows.
_UNREADABLE = {
    39: "a partial JSON update (set binlog_row_value_options to '')",
    165: "a compressed query (set log_bin_compress=OFF)",
    **{k: "a compressed row event (set log_bin_compress=OFF)" for k in range(166, 172)},
}


@dataclasses.dataclass
class Commit:
    """An XID: the transaction before it is whole."""


@dataclasses.dataclass
class Rows:
    """A row event of a loaded table: (before image or None, (image, zero dates)) per row."""

    table: str
    kind: str
    rows: list[tuple[dict[str, Any] | None, tuple[dict[str, Any], int]]]


def _length_coded(data: bytes, p: int) -> tuple[int, int]:
    c = data[p]
    if c < 251:
        return c, p + 1
    size = {252: 2, 253: 3, 254: 8}[c]
    return int.from_bytes(data[p + 1 : p + 1 + size], "little"), p + 1 + size


def _table_name(data: bytes) -> tuple[str, str]:
    """A table map's schema and table, read from its bytes (after table id and flags)."""
    p = 20 + 8
    n = data[p]
    schema = data[p + 1 : p + 1 + n].decode()
    p += 1 + n + 1
    m = data[p]
    return schema, data[p + 1 : p + 1 + m].decode()


class FastEvents:
    """The events of one read of a `BinLogStreamReader` opened with `blocking=False`."""

    def __init__(self, stream: Any, schema: str, tables: Collection[str]):
        self.stream = stream
        self._loaded = {(schema, t) for t in tables}
        self._ignored: set[int] = set()  # table ids of tables the run does not load
        self._map: dict[int, Any] = {}  # the table map this loop last saw

    def _private(self, name: str) -> Any:
        return getattr(self.stream, _P + name)

    def _library(self, pkt: Any) -> Any:
        """One packet through the library, as its fetchone does (rotation, format description,
        table map bookkeeping); its event, or None."""
        s = self.stream
        wrapped = BinLogPacketWrapper(
            pkt,
            s.table_map,
            s._ctl_connection,
            s.mysql_version,
            self._private("use_checksum"),
            self._private("allowed_events_in_packet"),
            self._private("only_tables"),
            self._private("ignored_tables"),
            self._private("only_schemas"),
            self._private("ignored_schemas"),
            self._private("freeze_schema"),
            self._private("ignore_decode_errors"),
            self._private("verify_checksum"),
            self._private("optional_meta_data"),
            self._private("enable_logging"),
            self._private("use_column_name_cache"),
            self._private("post_header_lengths"),
        )
        event = wrapped.event
        if wrapped.event_type == BINLOG.ROTATE_EVENT:
            s.log_pos, s.log_file = event.position, event.next_binlog
            if wrapped.timestamp != 0:  # a restart may reuse table ids: maps are read again
                s.table_map = {}
        elif wrapped.log_pos:
            s.log_pos = wrapped.log_pos
        if wrapped.event_type == BINLOG.FORMAT_DESCRIPTION_EVENT and event is not None:
            s.mysql_version = event.mysql_version
            setattr(s, _P + "post_header_lengths", event.post_header_len)
        if wrapped.event_type == BINLOG.TABLE_MAP_EVENT and event is not None:
            s.table_map[event.table_id] = event.get_table()
        return event

    def __iter__(self) -> Iterator[Any]:
        s = self.stream
        while True:
            if not self._private("connected_stream"):
                getattr(s, _P + "connect_to_stream")()
            if not self._private("connected_ctl"):
                getattr(s, _P + "connect_to_ctl")()
            try:
                pkt = s._stream_connection._read_packet()
            except pymysql.OperationalError as error:
                if error.args and error.args[0] in _EXPECTED_ERRORS:
                    s._stream_connection.close()
                    setattr(s, _P + "connected_stream", False)
                    continue
                raise
            if pkt.is_eof_packet():  # the server's end
                s.close()
                return
            if not pkt.is_ok_packet():
                continue
            if s.table_map is not self._map:  # the library began a new map (rotation, DDL)
                self._map = s.table_map
                self._ignored.clear()
            data = pkt._data
            kind = data[5]
            if kind in _UNREADABLE:
                raise LoaderError(
                    f"the binlog at {s.log_file}:{s.log_pos} holds {_UNREADABLE[kind]}, "
                    "which the loader cannot read"
                )
            table_id = int.from_bytes(data[20:26], "little")  # row events and table maps
            if (
                kind == BINLOG.TABLE_MAP_EVENT
                and table_id not in s.table_map
                and table_id not in self._ignored
            ):
                if _table_name(data) in self._loaded:
                    self._library(pkt)  # a loaded table's new map: the library parses it
                    continue
                self._ignored.add(table_id)
            if kind in _LIBRARY and kind != BINLOG.TABLE_MAP_EVENT:
                event = self._library(pkt)  # which moves the position itself
                if event is not None and kind == BINLOG.QUERY_EVENT:
                    yield event
                continue
            # Any other event moves the position here; GTIDs, annotations, checkpoints, known
            # table maps (freeze_schema) and the events of tables the run does not load do no more.
            s.log_pos = int.from_bytes(data[14:18], "little") or s.log_pos
            if kind in _ROWS and table_id in s.table_map:
                yield self._rows(pkt, data, kind, table_id)
            elif kind == BINLOG.XID_EVENT:
                yield Commit()

    def _rows(self, pkt: Any, data: bytes, kind: int, table_id: int) -> Rows:
        table = self.stream.table_map[table_id]
        what = _ROWS[kind]
        reader = getattr(table, "_shopsphere_rows", None)
        if reader is None:
            reader = RowsReader(table.columns)
            table._shopsphere_rows = reader
        p = 20 + 8  # the header, the table id and the flags
        if kind in _V2:
            p += int.from_bytes(data[p : p + 2], "little")
        columns, p = _length_coded(data, p)
        width = (columns + 7) // 8
        present = data[p : p + width]
        p += width
        full = reader.supported and columns == len(table.columns) and reader.full(present)
        if what == UPDATE:
            full = full and reader.full(data[p : p + width])
            p += width
        if not full:
            return Rows(table.table, what, library_rows(self._library(pkt)))
        checksum = 4 if self._private("use_checksum") else 0
        images = reader.images(data, p, 1 + int.from_bytes(data[10:14], "little") - checksum)
        if what == UPDATE:
            return Rows(
                table.table,
                what,
                [(b[0], a) for b, a in zip(images[::2], images[1::2], strict=True)],
            )
        return Rows(table.table, what, [(None, i) for i in images])
