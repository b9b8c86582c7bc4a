"""How a SQL source's changes are found: its change stream where the server allows it, or the
`updated_at` cursor with key scans.

Settings, per source (environment `SOURCES__<NAME>__<SETTING>` or `.dlt/config.toml`):

- `capture`: `stream` (the binlog or logical replication; fails in one line when the server
  or the user lacks what it needs), `cursor` (updated_at and key scans), or unset: the stream
  where the server allows it, else the cursor, said in one line.
- `on_lost_position`: `resync` (default: the tables are copied afresh, then the stream goes on
  from before the copy) or `fail` (the tables stop with the line).
- PostgreSQL: `slot_name` and `publication` (default `shopsphere_<source>_<database>`).

A table in stream mode is copied once (first load, `--full-refresh`, a backfill or a resync)
with the stream's position taken *before* the copy, then every run replays the stream from
each table's stored position: full row images merged on the key, so what the copy already
held is written again unchanged and nothing that changed during the copy is lost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import dlt

from loaders.engine.sql_readers import ConnInfo
from loaders.engine.streams.base import ChangeStream
from loaders.shared.errors import LoaderError
from loaders.shared.types import SqlSourceSpec, StreamHealth, TableMetrics, TablePlan, emit

CAPTURE_MODES = ("stream", "cursor")
LOST_POLICIES = ("resync", "fail")


def setting(source: str, name: str) -> str | None:
    value: Any = dlt.config.get(f"sources.{source}.{name}")
    return None if value in (None, "") else str(value).strip().lower()


def _choice(source: str, name: str, allowed: Sequence[str]) -> str | None:
    value = setting(source, name)
    if value is not None and value not in allowed:
        raise LoaderError(
            f"{source}: setting sources.{source}.{name} (SOURCES__{source.upper()}__"
            f"{name.upper()}) is {value!r}; use {' or '.join(allowed)}"
        )
    return value


def _make(spec: SqlSourceSpec, conn: ConnInfo, tables: Sequence[str]) -> ChangeStream | None:
    if conn.scheme == "mysql":
        from loaders.engine.streams.mysql import MySQLStream

        return MySQLStream(conn, spec.name, tables)
    if conn.scheme == "postgresql":
        from loaders.engine.streams.postgres import PostgresStream

        return PostgresStream(
            conn,
            spec.name,
            spec.pg_schema,
            tables,
            slot=dlt.config.get(f"sources.{spec.name}.slot_name"),
            publication=dlt.config.get(f"sources.{spec.name}.publication"),
        )
    return None


def open_stream(spec: SqlSourceSpec, conn: ConnInfo, tables: Sequence[str]) -> ChangeStream | None:
    """The source's change stream, or None to capture with the cursor (said in one line)."""
    wanted = _choice(spec.name, "capture", CAPTURE_MODES)
    _choice(spec.name, "on_lost_position", LOST_POLICIES)
    if wanted == "cursor":
        return None
    stream = _make(spec, conn, tables)
    why = f"{conn.scheme} has no change stream" if stream is None else stream.unavailable()
    if why:
        if stream is not None:
            stream.close()
        if wanted == "stream":
            raise LoaderError(
                f"{spec.name}: capture = stream, but {why} "
                f"(or set SOURCES__{spec.name.upper()}__CAPTURE=cursor)"
            )
        emit(f"  {spec.name}: changes found with the updated_at cursor and key scans ({why})")
        return None
    assert stream is not None
    emit(f"  {spec.name}: changes read from the {stream.kind}")
    return stream


def resync_lost(
    stream: ChangeStream, plans: Sequence[TablePlan], states: Mapping[str, Mapping[str, Any]]
) -> tuple[list[TablePlan], list[TableMetrics]]:
    """Tables whose stored position can no longer be read: copied afresh (`resync`) or stopped
    (`fail`), each said in one line naming the source and what was lost."""
    policy = setting(stream.source, "on_lost_position") or "resync"
    kept: list[TablePlan] = []
    stopped: list[TableMetrics] = []
    verdicts: dict[str, str | None] = {}
    for p in plans:
        position = states.get(p.spec.name, {}).get("stream")
        if p.mode != "incremental" or position is None:
            kept.append(p)
            continue
        marker = json.dumps(position, sort_keys=True)
        if marker not in verdicts:
            verdicts[marker] = stream.lost(position)
            if verdicts[marker]:
                emit(
                    f"  {stream.source}: the stream's stored position ({stream.describe(position)}) "
                    f"is lost: {verdicts[marker]}; "
                    + ("resyncing from a fresh copy" if policy == "resync" else "stopping")
                )
        lost = verdicts[marker]
        if lost:
            stream.lost_reason = lost
        if not lost:
            kept.append(p)
        elif policy == "fail":
            stopped.append(
                TableMetrics(
                    stream.source,
                    p.spec.name,
                    "stopped",
                    capture="stream",
                    stream=StreamHealth(stream.source, "stream", lost=lost),
                    error=f"{stream.source}.{p.spec.name}: the stream's position is lost ({lost}); "
                    f"run with --full-refresh, or set on_lost_position = resync",
                )
            )
        else:
            p.mode, p.reason, p.atomic = "full", f"resync: {lost}", True
            kept.append(p)
    return kept, stopped


def merged(copy: TableMetrics | None, live: TableMetrics | None) -> TableMetrics:
    """One audit row for a table copied and then caught up with the stream in the same run."""
    if copy is None:
        assert live is not None
        return live
    if live is None:
        return copy
    copy.rows_extracted += live.rows_extracted
    copy.rows_loaded += live.rows_loaded
    copy.rows_deleted += live.rows_deleted
    copy.zero_dates += live.zero_dates
    copy.extract_seconds += live.extract_seconds
    copy.load_seconds += live.load_seconds
    copy.error = copy.error or live.error
    copy.interrupted = copy.interrupted or live.interrupted
    copy.transient = copy.transient or live.transient
    copy.stream = live.stream
    if live.rows_extracted:
        copy.note = (copy.note + "; " if copy.note else "") + (
            f"{live.rows_extracted:,} changes during the copy replayed from the stream"
        )
    return copy


def live_health(spec: SqlSourceSpec, position: Mapping[str, Any]) -> StreamHealth:
    """Where the source's stream stands now against a stored position (the monitoring asks
    between loads: a stalled loader lets the server's binlog purge or WAL pile up)."""
    from loaders.shared.pipeline import secret

    url = secret(f"sources.{spec.name}.credentials", spec.name, spec.credentials_example)
    stream = _make(spec, ConnInfo.parse(url, spec.name), [t.name for t in spec.tables])
    if stream is None:
        return StreamHealth(spec.name, "cursor")
    try:
        return stream.health(position)
    finally:
        stream.close()
