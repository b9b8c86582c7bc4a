"""PostgreSQL: logical replication with the built-in `pgoutput` plugin, read through psycopg2's
`LogicalReplicationConnection`, as dlt's pg_replication source does.

A source has one publication (its tables) and one replication slot, named by settings. Each run
emits a heartbeat message into the WAL (`pg_logical_emit_message`) and reads until the
heartbeat comes back: decoding delivers transactions in commit order, so every transaction that
committed before the run began has been read, whole, and the heartbeat's commit is the new
position. The slot is advanced only after raw committed the load (`confirm`), so a run killed
anywhere reads the same changes again. The heartbeat also keeps an idle source's slot moving,
so it never holds WAL back for long.

Values come as PostgreSQL's text output and are cast to raw's types by the caller.
"""

from __future__ import annotations

import re
import secrets
import select
import time
from collections.abc import Mapping, Sequence
from typing import Any

from loaders.engine.sql_readers.base import ConnInfo
from loaders.engine.streams.base import ChangeStream, TableChanges
from loaders.engine.streams.pgoutput import HEARTBEAT_PREFIX, Decoder
from loaders.shared.errors import TransientLoaderError
from loaders.shared.types import StreamHealth

READ_TIMEOUT_SECONDS = 300.0  # without the heartbeat coming back: the server is stuck or gone


def _lsn_text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def default_name(source: str, database: str) -> str:
    """A slot or publication name: lowercase, digits and underscores, at most 63 characters."""
    return re.sub(r"[^a-z0-9_]", "_", f"shopsphere_{source}_{database}".lower())[:63]


class PostgresStream(ChangeStream):
    kind = "logical replication"
    text_values = True

    def __init__(
        self,
        conn: ConnInfo,
        source: str,
        schema: str,
        tables: Sequence[str],
        slot: str | None = None,
        publication: str | None = None,
    ) -> None:
        super().__init__(source, tables)
        self.conn = conn
        self.schema = schema
        self.slot = slot or default_name(source, conn.database)
        self.publication = publication or default_name(source, conn.database)
        self._session: Any = None

    def _dsn(self) -> str:
        c = self.conn
        items = {"host": c.host, "port": c.port, "user": c.user, "password": c.password}
        items["dbname"] = c.database
        dsn = " ".join(f"{k}={v}" for k, v in items.items() if v not in (None, ""))
        return dsn + " connect_timeout=10 options='-c TimeZone=UTC'"

    def _sql(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        import psycopg2

        if self._session is None:
            try:
                self._session = psycopg2.connect(self._dsn())
            except psycopg2.OperationalError as exc:
                raise TransientLoaderError(
                    f"{self.source}: cannot connect to PostgreSQL at {self.conn.where()} for "
                    f"logical replication ({str(exc).strip().splitlines()[0][:200]})"
                ) from None
            self._session.autocommit = True
        with self._session.cursor() as cur:
            cur.execute(sql, args or None)
            return list(cur.fetchall()) if cur.description else []

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def unavailable(self) -> str | None:
        ((level, replication, superuser),) = self._sql(
            "select current_setting('wal_level'), rolreplication, rolsuper "
            "from pg_roles where rolname = current_user"
        )
        if level != "logical":
            return f"wal_level is {level}, not logical: set wal_level = logical and restart"
        if not (replication or superuser):
            return "the loader's user lacks the REPLICATION attribute (alter role ... replication)"
        missing = self._unpublished()
        if missing and not self._may_publish():
            return (
                f"publication {self.publication} lacks {', '.join(missing)} and the loader's user "
                f"does not own them: a DBA runs `create publication {self.publication} for table "
                + ", ".join(f"{self.schema}.{t}" for t in self.tables)
                + "`"
            )
        return None

    def _unpublished(self) -> list[str]:
        published = {
            r[0]
            for r in self._sql(
                "select tablename from pg_publication_tables where pubname = %s and schemaname = %s",
                self.publication,
                self.schema,
            )
        }
        return [t for t in self.tables if t not in published]

    def _may_publish(self) -> bool:
        rows = self._sql(
            "select bool_and(pg_has_role(current_user, c.relowner, 'USAGE')) or "
            "(select rolsuper from pg_roles where rolname = current_user) "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relname = any(%s)",
            self.schema,
            list(self.tables),
        )
        return bool(rows and rows[0][0])

    def identity(self) -> str:
        ((system,),) = self._sql("select system_identifier::text from pg_control_system()")
        return str(system)

    def _publish(self) -> None:
        missing = self._unpublished()
        if not missing:
            return
        names = ", ".join(f'"{self.schema}"."{t}"' for t in missing)
        exists = self._sql("select 1 from pg_publication where pubname = %s", self.publication)
        if exists:
            self._sql(f'alter publication "{self.publication}" add table {names}')
        else:
            self._sql(f'create publication "{self.publication}" for table {names}')

    def _slot(self) -> tuple[int, str] | None:
        """(confirmed_flush_lsn, wal_status) of the source's slot, or None."""
        rows = self._sql(
            "select confirmed_flush_lsn::text, coalesce(wal_status, 'reserved') "
            "from pg_replication_slots where slot_name = %s and database = current_database()",
            self.slot,
        )
        if not rows:
            return None
        return (_lsn(rows[0][0]) if rows[0][0] else 0, str(rows[0][1]))

    def prepare(self) -> dict[str, Any]:
        self._publish()
        if self._slot() is None:
            self._sql("select pg_create_logical_replication_slot(%s, 'pgoutput')", self.slot)
        ((now,),) = self._sql("select pg_current_wal_lsn()::text")
        # Everything after the slot's confirmed point is kept for it, and it is at most `now`.
        return {"lsn": _lsn(now), "server": self.identity()}

    @staticmethod
    def order(position: Mapping[str, Any]) -> tuple[Any, ...]:
        return (int(position["lsn"]),)

    @staticmethod
    def describe(position: Mapping[str, Any]) -> str:
        return f"lsn {_lsn_text(int(position['lsn']))}"

    def lost(self, position: Mapping[str, Any]) -> str | None:
        server = self.identity()
        if position.get("server") != server:
            return (
                f"the server is another one (system identifier {position.get('server')} -> "
                f"{server}): restored from a backup or replaced"
            )
        slot = self._slot()
        if slot is None:
            return f"replication slot {self.slot} was dropped"
        confirmed, status = slot
        if status == "lost":
            return f"replication slot {self.slot} lost its WAL (max_slot_wal_keep_size)"
        if confirmed > int(position["lsn"]):
            return (
                f"replication slot {self.slot} was advanced to {_lsn_text(confirmed)}, past the "
                f"stored position {_lsn_text(int(position['lsn']))}: another reader uses it"
            )
        return None

    def read(
        self,
        since: Mapping[str, Mapping[str, Any]],
        key_columns: Mapping[str, Sequence[str]],
    ) -> tuple[dict[str, TableChanges], dict[str, Any]]:
        import psycopg2
        import psycopg2.extras

        token = secrets.token_hex(8)
        self._sql("select pg_logical_emit_message(true, %s, %s)", HEARTBEAT_PREFIX, token)
        start = min(int(p["lsn"]) for p in since.values())
        after = {t: self.order(p) for t, p in since.items()}
        decoder = Decoder(self.schema, since, key_columns, after)
        try:
            conn = psycopg2.connect(
                self._dsn(), connection_factory=psycopg2.extras.LogicalReplicationConnection
            )
        except psycopg2.OperationalError as exc:
            raise TransientLoaderError(
                f"{self.source}: cannot open a replication connection to {self.conn.where()} "
                f"({str(exc).strip().splitlines()[0][:200]})"
            ) from None
        try:
            cur = conn.cursor()
            cur.start_replication(
                slot_name=self.slot,
                decode=False,
                start_lsn=start,
                options={
                    "proto_version": "1",
                    "publication_names": self.publication,
                    "messages": "true",
                },
            )
            waited_since = time.monotonic()
            while decoder.heartbeat_end is None:
                message = cur.read_message()
                if message is None:
                    if time.monotonic() - waited_since > READ_TIMEOUT_SECONDS:
                        raise TransientLoaderError(
                            f"{self.source}: the replication slot {self.slot} sent nothing for "
                            f"{READ_TIMEOUT_SECONDS:.0f} s; retry later"
                        )
                    select.select([cur], [], [], 1.0)
                    continue
                waited_since = time.monotonic()
                decoder.feed(bytes(message.payload), token)
        except psycopg2.Error as exc:
            text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
            raise TransientLoaderError(
                f"{self.source}: reading replication slot {self.slot} failed: {text}"
            ) from None
        finally:
            conn.close()
        end = max(decoder.heartbeat_end, start)
        return decoder.changes, {"lsn": end, "server": self.identity()}

    def confirm(self, position: Mapping[str, Any]) -> None:
        self._sql(
            "select pg_replication_slot_advance(%s, %s::pg_lsn)",
            self.slot,
            _lsn_text(int(position["lsn"])),
        )

    def health(self, position: Mapping[str, Any] | None) -> StreamHealth:
        # The insert position: with asynchronous commit the write position lags what the
        # server already holds (and will keep for the slot).
        ((now,),) = self._sql("select pg_current_wal_insert_lsn()::text")
        h = StreamHealth(self.source, "stream", server_end=_lsn_text(_lsn(now)))
        held = self._sql(
            "select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), restart_lsn)::bigint "
            "from pg_replication_slots where slot_name = %s",
            self.slot,
        )
        if held and held[0][0] is not None:
            h.held_bytes = int(held[0][0])
        if position is not None:
            h.position = _lsn_text(int(position["lsn"]))
            h.lag_bytes = max(0, _lsn(now) - int(position["lsn"]))
        return h
