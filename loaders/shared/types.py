"""The loaders' shared vocabulary: what a source declares and what a run reports.

This module imports nothing of the engine, so a source's declaration (loaders/shop, …), the
HubSpot loader and the orchestration read these types without pulling in SQL reading, delete
detection or landing. The layers below it call downward only:
`runner` (a source's run) → `sql_table` (one table as a dlt resource) → `deletes` (what the
source removed) → `sql_readers` (the source's SQL and types) → `types`.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence

import pyarrow as pa

DELETED_COLUMN = "_source_deleted"  # dlt's hard-delete flag on the rows a source removed
DELETED_KEYS_PREFIX = "_deleted_"  # raw_<source>._deleted_<table>: the keys each load deleted
RELOADED_COLUMN = "_reloaded"  # ... and a row (keys null) for each load that replaced the table


def deleted_keys_table(table: str) -> str:
    """The raw table that keeps the keys the loads deleted from `table` (staging deletes by
    them: macro drop_rows_the_source_deleted)."""
    return f"{DELETED_KEYS_PREFIX}{table}"


@dataclasses.dataclass(frozen=True)
class KeyScan:
    """Find deleted rows by comparing the table's keys with raw (range by range for a single
    integer key: loaders.engine.deletes)."""


DeleteStrategy = KeyScan


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """What is extracted from a table and how it lands."""

    name: str
    primary_key: tuple[str, ...]
    cursor: str = "updated_at"
    deletes: DeleteStrategy | None = None  # how rows the source deleted are found (none: never)


@dataclasses.dataclass(frozen=True)
class SqlSourceSpec:
    """A SQL source system: its tables and where it lands."""

    name: str
    system: str
    tables: tuple[TableSpec, ...]
    pg_schema: str = "public"
    credentials_example: str = ""

    @property
    def dataset(self) -> str:
        return f"raw_{self.name}"


@dataclasses.dataclass(frozen=True)
class ApiSourceSpec:
    """A source read through an API by a loader of its own (HubSpot's): its tables, where they
    land, and the loader's run (tables or None for all, full_refresh, destination)."""

    name: str
    system: str
    tables: tuple[TableSpec, ...]
    run: Callable[[Sequence[str] | None, bool, str], list[TableMetrics]]

    @property
    def dataset(self) -> str:
        return f"raw_{self.name}"


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


@dataclasses.dataclass
class TablePlan:
    """How one table lands in this run (decided by the runner from raw's state)."""

    spec: TableSpec
    columns: list[SourceColumn]
    mode: str  # full | incremental | backfill
    reason: str = ""
    atomic: bool = False  # raw holds the table: reload through staging and swap it in
    retype: tuple[str, ...] = ()  # columns whose type changed (a --full-refresh converts them)


@dataclasses.dataclass
class StreamHealth:
    """Where a source's stream stands, for the audit, the assets' metadata and the alerts."""

    source: str
    capture: str
    position: str = ""
    server_end: str = ""
    lag_bytes: int | None = None  # stream the server holds past the stored position
    held_bytes: int | None = None  # WAL a PostgreSQL slot keeps the server from recycling
    margin_bytes: int | None = None  # binlog between the server's oldest and the position
    # Binlog files the server keeps before the position's file: at 0, with the server writing a
    # newer file, the next purge removes the position (MySQL).
    margin_files: int | None = None
    position_json: str = ""  # the stored position itself, for a later look at the server
    lost: str = ""  # what was lost, when the stored position could not be read
    note: str = ""


@dataclasses.dataclass
class TableMetrics:
    """What a run did to one table: rows, seconds, and the error if it failed."""

    source: str
    table: str
    mode: str
    rows_extracted: int = 0
    rows_loaded: int = 0
    rows_deleted: int = 0
    zero_dates: int = 0
    extract_seconds: float = 0.0
    load_seconds: float = 0.0
    error: str | None = None
    note: str = ""
    interrupted: bool = False  # stopped by a signal; the next run finishes what was extracted
    transient: bool = False  # the failure should pass if retried later (errors.is_transient)
    load_id: str | None = None  # dlt's load package that carried the table's rows
    capture: str = "cursor"  # how changes were found: cursor (updated_at, key scans) or stream
    stream: StreamHealth | None = None  # the source's stream after the run, in stream mode

    @property
    def status(self) -> str:
        if self.interrupted:
            return "interrupted"
        return "failed" if self.error else "ok"

    @property
    def seconds(self) -> float:
        return self.extract_seconds + self.load_seconds

    @property
    def rows_per_second(self) -> float:
        return self.rows_extracted / self.seconds if self.seconds > 0 else 0.0


class Progress:
    """Shows that a long load is alive, on stderr. On a terminal: one line per table, rewritten
    in place (rows read, the share when the total is known, the rate). Elsewhere (a log, CI):
    a table's first batch, then a line at most every `every` seconds, and its last batch when
    the total is known, so a log stays short. `Progress.verbose` (loaders.run -v): a line per
    batch read."""

    verbose = False

    def __init__(
        self, emit: Callable[[str], None], every: float = 30.0, terminal: bool | None = None
    ) -> None:
        self.emit = emit
        self.every = every
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self._shown: dict[tuple[str, str], float] = {}

    def update(
        self, source: str, table: str, mode: str, done: int, total: int | None, started: float
    ) -> None:
        now = time.perf_counter()
        rate = done / max(now - started, 1e-9)
        of = f"/{total:,}" if total else ""
        line = f"  {source}.{table}: {mode}, {done:,}{of} rows read ({rate:,.0f} rows/s)"
        if Progress.verbose:
            self.emit(line)
            return
        last = total is not None and done >= total
        shown = self._shown.get((source, table))
        wait = 0.2 if self.terminal else self.every
        if shown is not None and now - shown < wait and not last:
            return
        self._shown[(source, table)] = now
        if self.terminal:
            share = f" {min(done / total, 1):4.0%}" if total else ""
            _rewrite(f"{line}{share}")
        else:
            self.emit(line)


_open_line = False  # a progress line is on the terminal, not yet ended


def _rewrite(line: str) -> None:
    global _open_line
    sys.stderr.write(f"\r{line}\x1b[K")
    sys.stderr.flush()
    _open_line = True


def end_progress() -> None:
    """Ends the progress line the terminal shows, if any (before other output)."""
    global _open_line
    if _open_line:
        sys.stderr.write("\n")
        sys.stderr.flush()
        _open_line = False


def emit(line: str) -> None:
    """A line on stderr (after ending a progress line the terminal shows)."""
    end_progress()
    print(line, file=sys.stderr, flush=True)
