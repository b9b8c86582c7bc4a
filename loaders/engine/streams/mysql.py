"""MySQL/MariaDB: row events from the binlog, read with mysql-replication.

mysql-replication is pure Python over PyMySQL (the driver the loaders already use), speaks the
replication protocol of MySQL and MariaDB, and decodes row images with the column names and
ENUM labels that `binlog_row_metadata=FULL` writes into the binlog, so an event is read with
the columns it was written with, whatever ALTER came later. It reads until the server's end
and stops (`blocking=False`): no process stays up.

The position is a binlog file and offset taken at a transaction boundary (after an XID event
or a DDL statement), with the server's id beside it so that another server is recognised.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from loaders.engine.sql_readers.base import ConnInfo
from loaders.engine.streams.base import ChangeStream, Pending, TableChanges, apply_transaction
from loaders.engine.streams.binlog_events import DELETE, Commit, FastEvents, Rows
from loaders.shared.errors import LoaderError, TransientLoaderError
from loaders.shared.types import StreamHealth

ZEROS = "__zero_dates__"  # per row image: how many of its dates were zero dates (now NULL)
_TRUNCATE = re.compile(r"^\s*truncate\s+(?:table\s+)?(?:`?(\w+)`?\.)?`?(\w+)`?", re.I)
_DDL = re.compile(r"^\s*(alter|create|drop|rename|truncate)\b", re.I)


def _file_index(name: str) -> int:
    return int(name.rsplit(".", 1)[-1])


class MySQLStream(ChangeStream):
    kind = "binlog"

    def __init__(self, conn: ConnInfo, source: str, tables: Sequence[str]) -> None:
        super().__init__(source, tables)
        self.conn = conn
        self._session: Any = None

    def _settings(self) -> dict[str, Any]:
        c = self.conn
        return {
            "host": c.host or "127.0.0.1",
            "port": c.port or 3306,
            "user": c.user or "",
            "passwd": c.password or "",
        }

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        import pymysql

        if self._session is None:
            s = self._settings()
            try:
                self._session = pymysql.connect(
                    host=s["host"],
                    port=s["port"],
                    user=s["user"],
                    password=s["passwd"],
                    connect_timeout=10,
                    autocommit=True,
                )
            except pymysql.err.OperationalError as exc:
                raise TransientLoaderError(
                    f"{self.source}: cannot connect to MySQL at {self.conn.where()} for the binlog ({exc.args[-1]})"
                ) from None
        with self._session.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def unavailable(self) -> str | None:
        variables = dict(
            self._rows(
                "show global variables where variable_name in "
                "('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata')"
            )
        )
        wanted = {
            "log_bin": ("ON", "start the server with --log-bin"),
            "binlog_format": ("ROW", "set binlog_format=ROW"),
            "binlog_row_image": ("FULL", "set binlog_row_image=FULL"),
            "binlog_row_metadata": (
                "FULL",
                "set binlog_row_metadata=FULL (MariaDB 10.5+, MySQL 8.0.14+)",
            ),
        }
        for name, (value, fix) in wanted.items():
            found = str(variables.get(name, "missing")).upper()
            if found != value:
                return f"{name} is {found}, not {value}: {fix}"
        import pymysql

        try:
            self._rows("show master status")
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] == 1227:
                return "the loader's user lacks REPLICATION CLIENT (MariaDB: BINLOG MONITOR)"
            raise
        try:
            self._open(self.prepare()).fetchone()
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] in (1227, 1045):
                return "the loader's user lacks REPLICATION SLAVE"
            raise
        return None

    def identity(self) -> str:
        (row,) = self._rows("select @@server_id")
        server = str(row[0])
        try:  # MySQL names a server by its uuid; MariaDB has only the id
            (uuid,) = self._rows("select @@server_uuid")
            server = f"{server}/{uuid[0]}"
        except Exception:  # noqa: S110 - MariaDB: no such variable
            pass
        return server

    def _end(self) -> tuple[str, int]:
        rows = self._rows("show master status")
        if not rows:
            raise LoaderError(f"{self.source}: the server writes no binlog (log_bin is OFF)")
        return str(rows[0][0]), int(rows[0][1])

    def prepare(self) -> dict[str, Any]:
        file, pos = self._end()
        return {"file": file, "pos": pos, "server": self.identity()}

    @staticmethod
    def order(position: Mapping[str, Any]) -> tuple[Any, ...]:
        return (_file_index(str(position["file"])), int(position["pos"]))

    def _binlogs(self) -> list[tuple[str, int]]:
        return [(str(r[0]), int(r[1])) for r in self._rows("show binary logs")]

    def lost(self, position: Mapping[str, Any]) -> str | None:
        server = self.identity()
        if position.get("server") != server:
            return (
                f"the server is another one (server id {position.get('server')} -> {server}): "
                "restored from a backup or replaced"
            )
        logs = dict(self._binlogs())
        file, pos = str(position["file"]), int(position["pos"])
        if file not in logs:
            oldest = min(logs, key=_file_index) if logs else "none"
            return f"binlog {file} was purged (the server's oldest is {oldest})"
        if logs[file] < pos:
            return f"binlog {file} is shorter than the stored position {pos}: the server was reset"
        return None

    def _open(self, start: Mapping[str, Any]) -> Any:
        from pymysqlreplication import BinLogStreamReader
        from pymysqlreplication.event import QueryEvent, RotateEvent, XidEvent
        from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

        return BinLogStreamReader(
            connection_settings=self._settings(),
            # A replica id of its own per read: two readers with one id evict each other.
            server_id=2_000_000_000 + secrets.randbelow(100_000_000),
            log_file=str(start["file"]),
            log_pos=int(start["pos"]),
            resume_stream=True,
            blocking=False,
            only_schemas=[self.conn.database],
            only_tables=self.tables,
            # A table map is parsed once per table id (a day's single-row statements each bring
            # one: parsing them all was two thirds of the read). A table's id changes with its
            # definition, and the map is cleared at every DDL statement besides (read()).
            freeze_schema=True,
            only_events=[
                WriteRowsEvent,
                UpdateRowsEvent,
                DeleteRowsEvent,
                XidEvent,
                QueryEvent,
                RotateEvent,
            ],
            enable_logging=False,
        )

    def read(
        self,
        since: Mapping[str, Mapping[str, Any]],
        key_columns: Mapping[str, Sequence[str]],
    ) -> tuple[dict[str, TableChanges], dict[str, Any]]:
        from pymysqlreplication.event import QueryEvent

        now = self.prepare()
        end = self.order(now)
        start = min(since.values(), key=self.order)
        after = {t: self.order(p) for t, p in since.items()}
        changes = {t: TableChanges() for t in since}
        position = dict(start)
        pending: Pending = []
        stream = self._open(start)

        def commit(file: str, pos: int) -> None:
            apply_transaction(changes, pending, (_file_index(file), pos), after)
            position.update(file=file, pos=pos)

        try:
            events = iter(FastEvents(stream, self.conn.database, list(changes)))
            while self.order(position) < end:
                event = next(events, None)
                if event is None:  # the server's end: every transaction up to `now` was read
                    if not pending and self.order(position) < end:
                        position.update(file=now["file"], pos=now["pos"])
                    break
                if isinstance(event, Commit):
                    commit(stream.log_file, stream.log_pos)
                elif isinstance(event, QueryEvent):
                    query = event.query.strip()
                    if query.upper() == "COMMIT":  # a transaction of a non-transactional engine
                        commit(stream.log_file, stream.log_pos)
                    elif _DDL.match(query):  # DDL commits implicitly
                        self._truncation(event, query, pending)
                        commit(stream.log_file, stream.log_pos)
                        stream.table_map = {}  # column definitions may have changed
                elif isinstance(event, Rows) and event.table in changes:
                    table, keys = event.table, key_columns[event.table]
                    for before, (image, zeros) in event.rows:
                        key = tuple(image[k] for k in keys)
                        if before is not None:
                            old = tuple(before[k] for k in keys)
                            if old != key:  # the key itself changed
                                pending.append((table, "row", old, None))
                        if event.kind == DELETE:
                            pending.append((table, "row", key, None))
                        else:
                            if zeros:
                                image[ZEROS] = zeros
                            pending.append((table, "row", key, image))
        except LoaderError:
            raise
        except Exception as exc:
            raise TransientLoaderError(
                f"{self.source}: reading the binlog from {self.describe(start)} failed: "
                f"{str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__}"
            ) from None
        finally:
            stream.close()
        position["server"] = start.get("server") or self.identity()
        return changes, position

    def _truncation(
        self,
        event: Any,
        query: str,
        pending: Pending,
    ) -> None:
        match = _TRUNCATE.match(query)
        if not match:
            return
        schema = match.group(1) or (
            event.schema.decode() if isinstance(event.schema, bytes) else str(event.schema)
        )
        if schema == self.conn.database and match.group(2) in self.tables:
            pending.append((match.group(2), "truncate", (), None))

    def health(self, position: Mapping[str, Any] | None) -> StreamHealth:
        logs = self._binlogs()
        file, pos = self._end()
        h = StreamHealth(self.source, "stream", server_end=f"{file}:{pos}")
        if position is None:
            return h
        h.position = f"{position['file']}:{position['pos']}"
        at = self.order(position)
        h.lag_bytes = sum(
            size - (at[1] if _file_index(name) == at[0] else 0)
            for name, size in logs
            if _file_index(name) >= at[0]
        )
        h.margin_bytes = sum(size for name, size in logs if _file_index(name) < at[0]) + (
            at[1] if any(_file_index(n) == at[0] for n, _ in logs) else 0
        )
        kept = sorted(_file_index(name) for name, _ in logs)
        if kept and at[0] != _file_index(file):  # the position's file is no longer written
            h.margin_files = sum(1 for i in kept if i < at[0])
        return h
