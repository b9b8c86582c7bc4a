"""Orchestration benchmark: the Dagster daemon's scheduled daily run on a big world, with the
orchestrator's memory.

    python -m benchmarks.orchestration [--orders 1000000] [--reuse-world] [--work-dir data/bench_ops]

Builds (or reuses) a world of `--orders` orders on the MariaDB and PostgreSQL servers, serves
its HubSpot portal with the emulator (rate limits lifted, as in benchmarks.warehouse), starts
`dagster dev` (webserver and daemon) on an empty warehouse and instance with the daily
schedule set to every minute, and waits for the first scheduled run of the daily job. It
samples the RSS of dagster's whole process tree every second and prints: the run's status and
seconds, each step's seconds, and the orchestrator's RSS idle (before the run) and at peak.

    python -m benchmarks.orchestration --reuse-world --intraday 10 [--intraday-cron '* * * * *']

With `--intraday N`, the intraday schedule is on (SHOPSPHERE_INTRADAY=on) and the daily run is
scheduled once. After it, N times: wait a random moment within the intraday period, commit a
status change to a random order in the shop, and poll `fct_orders` until it shows it. It prints
the seconds from commit to visible (median and max), each intraday run's seconds, and the
bound for another period: at most one period of waiting for the next tick plus the slowest run.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import requests
from croniter import croniter  # type: ignore[import-untyped,unused-ignore]

from benchmarks.worlds import create_world_command

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "pat-na1-benchmark-token"  # noqa: S105  # the emulator's  # pragma: allowlist secret
RUNS = """{ runsOrError { ... on Runs { results { runId status jobName startTime endTime
  tags { key value } stepStats { stepKey status startTime endTime } } } } }"""


def tree_rss_mb(pid: int) -> tuple[float, int]:
    """RSS of a process and all its descendants, in MB, and how many processes that is."""
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return 0.0, 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 2**20, len(procs)


def scheduled_run(url: str) -> dict[str, Any] | None:
    try:
        answer = requests.post(f"{url}/graphql", json={"query": RUNS}, timeout=10).json()
    except (requests.RequestException, ValueError):
        return None
    # While the code location loads, the answer holds errors and no data.
    runs = ((answer.get("data") or {}).get("runsOrError") or {}).get("results") or []
    for run in reversed(runs):  # newest first: the first scheduled run is the last one
        tags = {t["key"] for t in run["tags"]}
        if run["jobName"] == "daily" and "dagster/schedule_name" in tags:
            return dict(run)
    return None


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--reuse-world", action="store_true")
    parser.add_argument("--work-dir", default="data/bench_ops")
    parser.add_argument("--port", type=int, default=3971)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--intraday", type=int, default=0, help="changes to follow intraday")
    parser.add_argument("--intraday-cron", default="* * * * *")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from world.hubspot.emulator import EmulatorConfig, HubSpotEmulator

    args = parse_args(argv)
    work = Path(args.work_dir).resolve()
    manifest = ensure_world(args, work / "world")
    home = fresh_home(work)
    limits = EmulatorConfig(
        tokens={TOKEN}, interval_max=1_000_000, search_per_second=1_000, daily_max=10**9
    )
    emulator = HubSpotEmulator(manifest["hubspot_store"], limits).start()
    env = bench_env(args, work, home, manifest, emulator.base_url)
    bin_dir = Path(sys.executable).parent
    # dagster runs in a session of its own (so that its whole group can be killed): turn
    # SIGTERM into an exception, so that the clean-up below stops it too.
    signal.signal(signal.SIGTERM, _terminate)
    subprocess.run([str(bin_dir / "dbt"), "parse", "--quiet"], cwd=ROOT, env=env, check=True)
    url = f"http://127.0.0.1:{args.port}"
    log = (work / "dagster.log").open("w")
    dev = subprocess.Popen(
        [str(bin_dir / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(args.port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        run, idle, peak = watch_daily_run(dev.pid, url, args.timeout)
        if run is not None and run["status"] == "SUCCESS" and args.intraday:
            latencies = follow_changes(
                args.intraday, args.intraday_cron, manifest["shop_url"], work / "warehouse.duckdb"
            )
            intraday = [
                r["endTime"] - r["startTime"]
                for r in runs_of(url, "intraday")
                if r["status"] == "SUCCESS" and r["endTime"]
            ]
    finally:
        os.killpg(dev.pid, signal.SIGKILL)  # dagster dev ignores SIGTERM for a long while
        dev.wait()
        emulator.stop()
        log.close()
    if run is None:
        raise SystemExit(f"benchmark: no scheduled run within {args.timeout:.0f} s; see {log.name}")
    print_run(run, manifest.get("orders", args.orders), idle, peak)
    if run["status"] == "SUCCESS" and args.intraday:
        print_intraday(latencies, intraday, args.intraday_cron)
    return 0 if run["status"] == "SUCCESS" else 1


def ensure_world(args: argparse.Namespace, world_dir: Path) -> dict[str, Any]:
    """The world's manifest, after creating the world unless one is kept (`--reuse-world`)."""
    shop_url = os.environ.get(
        "SHOP_DATABASE_URL", "mysql://root@127.0.0.1:3306/shopsphere_ops_shop"
    )
    catalog_url = os.environ.get(
        "CATALOG_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/shopsphere_ops_catalog"
    )
    argv = create_world_command(
        world_dir, args.orders, shop_url, catalog_url, reuse=args.reuse_world
    )
    if argv is not None:
        print(f"-- world: {args.orders:,} orders ...", flush=True)
        subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    manifest: dict[str, Any] = json.loads((world_dir / "manifest.json").read_text())
    return manifest


def fresh_home(work: Path) -> Path:
    """A new warehouse, dlt folder, target folder and Dagster home (the project's dagster.yaml)."""
    for stale in ("warehouse.duckdb", "warehouse.duckdb.wal", "dlt", "dagster_home", "target"):
        path = work / stale
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    return home


def bench_env(
    args: argparse.Namespace, work: Path, home: Path, manifest: dict[str, Any], hubspot_url: str
) -> dict[str, str]:
    """Dagster's environment: the world's sources, the schedules due now, quiet loaders."""
    from world.urls import DbUrl

    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        SOURCES__SHOP__CREDENTIALS=DbUrl.parse(manifest["shop_url"]).sqlalchemy(),
        SOURCES__CATALOG__CREDENTIALS=DbUrl.parse(manifest["catalog_url"]).sqlalchemy(),
        SOURCES__HUBSPOT__ACCESS_TOKEN=TOKEN,
        SOURCES__HUBSPOT__BASE_URL=hubspot_url,
        SHOPSPHERE_DUCKDB_PATH=str(work / "warehouse.duckdb"),
        SHOPSPHERE_PIPELINES_DIR=str(work / "dlt"),
        DBT_PROFILES_DIR=str(ROOT),
        DBT_TARGET_PATH=str(work / "target"),
        DAGSTER_HOME=str(home),
        SHOPSPHERE_DAILY_CRON=once_in(minutes=3) if args.intraday else "* * * * *",
        SHOPSPHERE_SCHEDULE_TIMEZONE="UTC",
        SHOPSPHERE_INTRADAY="on" if args.intraday else "off",
        SHOPSPHERE_INTRADAY_CRON=args.intraday_cron,
        RUNTIME__LOG_LEVEL="WARNING",
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def watch_daily_run(
    pid: int, url: str, timeout: float
) -> tuple[dict[str, Any] | None, tuple[float, int], tuple[float, int]]:
    """The scheduled daily run once it ends (None when none ran in time), with the
    orchestrator's RSS while it waited and its peak during the run (MB, processes)."""
    idle: tuple[float, int] = (0.0, 0)
    peak: tuple[float, int] = (0.0, 0)
    run: dict[str, Any] | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1)
        rss = tree_rss_mb(pid)
        run = scheduled_run(url)
        if run is None:
            idle = rss  # the orchestrator up and waiting: the last sample before the run
            continue
        peak = max(peak, rss)
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
    return run, idle, peak


def print_run(
    run: dict[str, Any], orders: int, idle: tuple[float, int], peak: tuple[float, int]
) -> None:
    print(
        f"\n{orders:,} orders: scheduled daily run {run['runId'][:8]} {run['status']} "
        f"in {run['endTime'] - run['startTime']:.0f} s"
    )
    print(f"\n{'step':<14} {'status':<10} {'seconds':>8}")
    for s in sorted(run["stepStats"], key=lambda s: s["startTime"] or 0):
        seconds = (s["endTime"] or 0) - (s["startTime"] or 0)
        print(f"{s['stepKey']:<14} {s['status']:<10} {seconds:>8.1f}")
    print(
        f"\norchestrator RSS  idle {idle[0]:,.0f} MB ({idle[1]} processes), "
        f"peak during the run {peak[0]:,.0f} MB ({peak[1]} processes)"
    )


def once_in(minutes: int) -> str:
    """A cron expression (UTC) that fires once, `minutes` from now."""
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    return f"{at.minute} {at.hour} {at.day} {at.month} *"


def period_seconds(cron: str) -> float:
    """The longest gap between two ticks of a cron expression, over the next day."""
    ticks = croniter(cron, datetime.now(UTC))
    times = [ticks.get_next(datetime)]
    while times[-1] < times[0] + timedelta(days=1):
        times.append(ticks.get_next(datetime))
    return max((b - a).total_seconds() for a, b in itertools.pairwise(times))


def follow_changes(n: int, cron: str, shop_url: str, warehouse: Path) -> list[float]:
    """N changes, each at a random moment of the period; seconds from commit to fct_orders."""
    import duckdb

    from loaders.shared.locks import warehouse_lock
    from world.shop.db import ShopDB

    os.environ["SHOPSPHERE_DUCKDB_PATH"] = str(warehouse)  # the lock beside it
    rng = random.Random(26)
    shop = ShopDB(shop_url)
    latencies = []
    for number in range(1, n + 1):
        time.sleep(rng.uniform(0, period_seconds(cron)))
        with shop.connect() as conn, conn.cursor() as cur:
            cur.execute("select max(order_id) from orders")
            (top,) = cur.fetchone()
            cur.execute(
                "select min(order_id) from orders where order_id >= %s",
                (rng.randint(1, int(top)),),
            )
            (order_id,) = cur.fetchone()
            cur.execute(
                "update orders set status = if(status = 'shipped', 'delivered', 'shipped') "
                "where order_id = %s",
                (order_id,),
            )
            cur.execute("select status from orders where order_id = %s", (order_id,))
            (status,) = cur.fetchone()
        committed = time.monotonic()
        while True:
            time.sleep(2)
            try:  # as a writer would: never in the way of a load or a build
                with (
                    warehouse_lock("duckdb", "benchmark poll"),
                    duckdb.connect(str(warehouse), read_only=True) as con,
                ):
                    seen = con.execute(
                        "select status from marts.fct_orders where order_id = ?", [order_id]
                    ).fetchall()
            except duckdb.Error:
                continue
            if seen == [(status,)]:
                break
        latencies.append(time.monotonic() - committed)
        print(
            f"-- change {number}: order {order_id} visible after {latencies[-1]:.0f} s", flush=True
        )
    return latencies


def runs_of(url: str, job: str) -> list[dict[str, Any]]:
    answer = requests.post(f"{url}/graphql", json={"query": RUNS}, timeout=30).json()
    runs = ((answer.get("data") or {}).get("runsOrError") or {}).get("results") or []
    return [r for r in runs if r["jobName"] == job]


def print_intraday(latencies: list[float], runs: list[float], cron: str) -> None:
    period = period_seconds(cron)
    print(f"\nintraday ({cron!r}, a tick every {period:.0f} s): {len(latencies)} changes")
    print(
        f"commit to visible in fct_orders: median {statistics.median(latencies):.0f} s, "
        f"max {max(latencies):.0f} s"
    )
    if runs:
        print(
            f"intraday runs: {len(runs)}, median {statistics.median(runs):.0f} s, "
            f"max {max(runs):.0f} s"
        )
        print(
            f"bound with a tick every 15 minutes: 900 s of waiting + {max(runs):.0f} s "
            f"= {900 + max(runs):.0f} s (target 900 s)"
        )


if __name__ == "__main__":
    sys.exit(main())
