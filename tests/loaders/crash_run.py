"""Test harness: the loader CLI, killed with SIGKILL at a chosen point of its run.

    SHOPSPHERE_TEST_KILL_AT=extract:N  python tests/loaders/crash_run.py [loader args]
        dies after reading N batches from the sources (mid-extract);
    SHOPSPHERE_TEST_KILL_AT=http:N     ... after N answers from the HubSpot API (mid-extract);
    SHOPSPHERE_TEST_KILL_AT=load:N     ... after N load jobs have written into the warehouse.

No cleanup runs (no atexit, no finally), exactly as when the OOM killer or a power cut stops a
real run. With SHOPSPHERE_TEST_SIGNAL=TERM the process sends itself SIGTERM instead, as a
scheduler or `kill` does, and the loader's own handling runs. Used by the crash and fault tests.
"""

import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

where, _, count = os.environ["SHOPSPHERE_TEST_KILL_AT"].partition(":")
left = int(count)
SIGNAL = signal.SIGTERM if os.environ.get("SHOPSPHERE_TEST_SIGNAL") == "TERM" else signal.SIGKILL


def _tick() -> None:
    global left
    left -= 1
    if left <= 0:
        sys.stdout.flush()
        if SIGNAL == signal.SIGTERM and left < 0:
            return  # one SIGTERM only: a second one would mean "stop now" to dlt
        os.kill(os.getpid(), SIGNAL)


if where == "extract":  # a batch read from a table, or a table's changes from the stream
    import loaders.engine.sql_table as sql_table
    import loaders.engine.stream_table as stream_table

    for module in (sql_table, stream_table):
        original_to_target = module.to_target

        def to_target(*args: Any, _original: Any = original_to_target, **kwargs: Any) -> Any:
            out = _original(*args, **kwargs)
            _tick()
            return out

        module.to_target = to_target  # type: ignore[attr-defined]
elif where == "http":
    from loaders.hubspot.client import HubSpotSession

    original_send = HubSpotSession._send_with_retries

    def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original_send(self, *args, **kwargs)
        _tick()
        return out

    HubSpotSession._send_with_retries = send  # type: ignore[method-assign]
elif where == "load":
    from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob

    original_run = DuckDbCopyJob.run

    def run(self: Any) -> None:
        original_run(self)
        _tick()

    DuckDbCopyJob.run = run  # type: ignore[method-assign]
else:
    raise SystemExit(f"unknown kill point {where!r}")

from loaders.run import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
