"""Two advisory locks, both `flock`s the kernel releases when the process ends, however it ends:
a killed run never leaves a lock that blocks the next one (the file's old contents, pid and
start time, are simply overwritten by the next holder).

- `source_lock`: one writer per source and destination. A second run of the same source is
  refused at once (transient: retry when the first has finished).
- `warehouse_lock`: DuckDB has a single writer per file. Loads of different sources, `dbt
  build` and the reports take turns on it: a second writer waits for the first, up to
  SHOPSPHERE_WAREHOUSE_WAIT_SECONDS (default 3600). Snowflake takes concurrent writers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from loaders.settings import settings
from loaders.shared.errors import TransientLoaderError
from loaders.shared.warehouse import duckdb_path


def _stamp(fd: int, what: str) -> None:
    since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}, since {since}{what}\n".encode(), 0)


def _holder(fd: int) -> str:
    return os.pread(fd, 200, 0).decode(errors="replace").strip() or "pid ?, since ?"


@contextlib.contextmanager
def source_lock(pipelines_dir: str, source: str, destination: str) -> Iterator[None]:
    """Hold the lock of `source` -> `destination`; TransientLoaderError at once if another run
    holds it."""
    Path(pipelines_dir).mkdir(parents=True, exist_ok=True)
    path = Path(pipelines_dir) / f"shopsphere_{source}_{destination}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TransientLoaderError(
                f"{source}: another load is running ({_holder(fd)}); wait for it to finish"
            ) from None
        _stamp(fd, "")
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def warehouse_lock(
    destination: str, what: str, wait_seconds: float | None = None
) -> Iterator[None]:
    """Be the DuckDB file's only writer while the block runs; wait for the current one first.

    `what` names the writer in the lock file (e.g. 'shop load', 'dbt build'), so that a waiter
    can say whom it waits for. A no-op for destinations with concurrent writers.
    """
    if destination != "duckdb":
        yield
        return
    if wait_seconds is None:
        wait_seconds = settings().warehouse_wait_seconds
    path = Path(duckdb_path() + ".writer.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told:
                    print(
                        f"  {what}: waiting for the warehouse ({_holder(fd)})",
                        file=sys.stderr,
                        flush=True,
                    )
                    told = True
                if time.monotonic() >= deadline:
                    raise TransientLoaderError(
                        f"{what}: the warehouse stayed busy for {wait_seconds:.0f} s "
                        f"({_holder(fd)}); retry later"
                    ) from None
                time.sleep(0.5)
        _stamp(fd, f", {what}")
        yield
    finally:
        os.close(fd)
