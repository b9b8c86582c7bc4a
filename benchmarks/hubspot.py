"""HubSpot loader benchmark: a portal of `--contacts` contacts behind HubSpot's documented limits.

    python -m benchmarks.hubspot [--contacts 100000] [--interval-max 190] [--search-per-second 5]

Generates a portal, serves it with the emulator enforcing HubSpot's budgets (default: a
Professional/Enterprise private app, 190 requests per 10 s; search 5 per second), then runs
`python -m loaders.run --source hubspot` for a full load, applies a day of change touching
`--fraction` of the records, and runs it again. Prints per run: requests the emulator served,
429s it answered, seconds, and rows per table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "pat-na1-benchmark"  # noqa: S105 - the emulator's own


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=40_000, help="shop size the portal mirrors")
    parser.add_argument("--interval-max", type=int, default=190)
    parser.add_argument("--interval-ms", type=int, default=10_000)
    parser.add_argument("--search-per-second", type=int, default=5)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--work-dir", default="data/bench-hubspot")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from world.change import apply_hubspot_change
    from world.hubspot.emulator import EmulatorConfig, HubSpotEmulator

    work = Path(args.work_dir).resolve()
    store, counts = make_portal(args, work)
    config = EmulatorConfig(
        tokens={TOKEN},
        interval_max=args.interval_max,
        interval_ms=args.interval_ms,
        search_per_second=args.search_per_second,
    )
    runs = []
    with HubSpotEmulator(store.path, config) as emulator:
        env = {
            **os.environ,
            "SOURCES__HUBSPOT__ACCESS_TOKEN": TOKEN,
            "SOURCES__HUBSPOT__BASE_URL": emulator.base_url,
            "SOURCES__HUBSPOT__SEARCH_PER_SECOND": str(max(1, args.search_per_second - 1)),
            "SHOPSPHERE_DUCKDB_PATH": str(work / "warehouse.duckdb"),
            "SHOPSPHERE_PIPELINES_DIR": str(work / "dlt"),
        }
        for label in ("full", "incremental"):
            if label == "incremental":
                report = apply_hubspot_change(store, seed=11, number=1, fraction=args.fraction)
                print(
                    "change: " + ", ".join(f"{k} {v}" for k, v in report.counts.items()), flush=True
                )
            emulator.reset_stats()
            run = load_once(label, work, env, emulator)
            if isinstance(run, int):
                return run
            runs.append(run)
    print_runs(args, counts, runs)
    return 0


def make_portal(args: argparse.Namespace, work: Path) -> tuple[Any, dict[str, int]]:
    """A new portal of `--contacts` contacts in WORK_DIR, and what it holds."""
    from world.config import WorldConfig
    from world.generate import generate
    from world.hubspot.store import HubSpotStore

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"generating a portal of {args.contacts:,} contacts ...", flush=True)
    world = generate(WorldConfig(orders=args.orders, seed=11, contacts=args.contacts))
    store = HubSpotStore(str(work / "hubspot.sqlite"))
    store.recreate()
    counts = store.load(world.db, "2025-01-01T00:00:00.000Z")
    return store, counts


def load_once(label: str, work: Path, env: dict[str, str], emulator: Any) -> tuple[Any, ...] | int:
    """One HubSpot load, measured: (label, seconds, the emulator's stats, what the loader said,
    the audit's tables), or the loader's exit code when it failed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "loaders.run", "--source", "hubspot"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.stderr.write(done.stderr[-3000:])
        return done.returncode
    stats = dict(emulator.stats)
    line = next((x for x in done.stderr.splitlines() if x.strip().startswith("hubspot:")), "")
    with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as con:
        tables = con.sql(
            """select table_name, load_mode, rows_extracted, rows_loaded
               from loader_audit.load_runs where run_id = (select run_id from loader_audit.load_runs
               order by run_finished_at desc limit 1) order by table_name"""
        ).fetchall()
    print(f"{label}: {seconds:.1f} s, {stats.get('requests', 0)} requests", flush=True)
    return (label, seconds, stats, line.strip(), tables)


def print_runs(
    args: argparse.Namespace, counts: dict[str, int], runs: list[tuple[Any, ...]]
) -> None:
    print(
        f"\nHubSpot benchmark: {counts['contacts']:,} contacts, {counts['companies']:,} companies, "
        f"{counts['deals']:,} deals, {counts['email_events']:,} email events"
    )
    print(
        f"limits enforced: {args.interval_max} requests / {args.interval_ms / 1000:.0f} s, "
        f"search {args.search_per_second} / s\n"
    )
    print(f"{'run':<12}{'seconds':>9}{'requests':>10}{'429s':>7}{'req/s':>8}   loader says")
    for label, seconds, stats, line, _ in runs:
        print(
            f"{label:<12}{seconds:>9.1f}{stats.get('requests', 0):>10}{stats.get('status_429', 0):>7}"
            f"{stats.get('requests', 0) / seconds:>8.1f}   {line}"
        )
    for label, _, _, _, tables in runs:
        print(
            f"\n{label}: "
            + ", ".join(
                f"{t} {mode} {loaded:,}/{extracted:,}" for t, mode, extracted, loaded in tables
            )
            + "  (loaded/extracted)"
        )


if __name__ == "__main__":
    sys.exit(main())
