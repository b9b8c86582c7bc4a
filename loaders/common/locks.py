"""One writer per source: an advisory lock held for the whole run of a source.

The lock is an `flock` on a file beside the pipeline's working directory. The kernel releases
it when the process ends, however it ends, so a killed run never leaves a lock that blocks the
next one: the file's old contents (pid, start time) are simply overwritten by the next holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from .errors import LoaderError


@contextlib.contextmanager
def source_lock(pipelines_dir: str, source: str, destination: str) -> Iterator[None]:
    """Hold the lock of `source` -> `destination`; LoaderError at once if another run holds it."""
    Path(pipelines_dir).mkdir(parents=True, exist_ok=True)
    path = Path(pipelines_dir) / f"shopsphere_{source}_{destination}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "pid ?, since ?"
            raise LoaderError(
                f"{source}: another load is running ({holder}); wait for it to finish"
            ) from None
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {since}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
