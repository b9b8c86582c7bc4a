"""What a person sees while a long load runs: a line per table, not one per batch."""

import io
import time

import pytest

from loaders.shared import types
from loaders.shared.types import Progress, emit, end_progress


def _feed(progress: Progress, total: int | None, batches: int) -> None:
    started = time.perf_counter()
    for i in range(1, batches + 1):
        progress.update("hubspot", "contacts", "incremental", i * 100, total, started)


def test_a_log_gets_a_tables_first_and_last_batch_not_every_one() -> None:
    lines: list[str] = []
    _feed(Progress(lines.append, every=3600, terminal=False), total=50_000, batches=500)
    assert len(lines) == 2, lines
    assert lines[0].startswith("  hubspot.contacts: incremental, 100/50,000 rows read")
    assert "50,000/50,000 rows read" in lines[1]
    unknown: list[str] = []
    _feed(Progress(unknown.append, every=3600, terminal=False), total=None, batches=500)
    assert len(unknown) == 1  # the total unknown (HubSpot): the first batch, then every hour


def test_verbose_shows_every_batch() -> None:
    lines: list[str] = []
    Progress.verbose = True
    try:
        _feed(Progress(lines.append, every=3600, terminal=False), total=None, batches=7)
    finally:
        Progress.verbose = False
    assert len(lines) == 7


def test_a_terminal_gets_one_line_rewritten_and_ended_before_other_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()
    monkeypatch.setattr(types.sys, "stderr", err)
    _feed(Progress(lambda line: None, terminal=True), total=50_000, batches=500)
    shown = err.getvalue()
    assert "\n" not in shown and shown.startswith("\r  hubspot.contacts")
    assert shown.count("\r") < 10  # throttled: not a rewrite per batch
    last = shown.rsplit("\r", 1)[1]
    assert "50,000/50,000 rows read" in last and last.endswith(" 100%\x1b[K")
    emit("==> catalog")
    end_progress()  # nothing left open: no second newline
    assert err.getvalue().endswith("rows/s) 100%\x1b[K\n==> catalog\n")
