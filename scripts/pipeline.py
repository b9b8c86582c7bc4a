"""The whole pipeline end to end, as the quickstart runs it.

    python scripts/pipeline.py [--orders 20000] [--seed 42] [--world-dir data/world]
                               [--warehouse data/warehouse.duckdb] [--skip-world] [--variant]

1. creates and fills the source world (embedded stand-ins unless SHOP_DATABASE_URL /
   CATALOG_DATABASE_URL point at real servers) and serves the HubSpot emulator on loopback;
2. runs the loaders (`python -m loaders.run --source all`) into the DuckDB warehouse;
3. runs `dbt build` and `dbt docs generate`;
4. builds the report pages (`python -m reports build`, next to the warehouse in reports/);
5. prints a short summary.

Each step runs as its own process, exactly as a user would run it by hand.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loaders.shared.warehouse import duckdb_path  # noqa: E402
from scripts.dq_report import print_dq_report  # noqa: E402
from world.cli import DEFAULT_TOKEN, Manifest, create_world, print_report, resolve_urls  # noqa: E402
from world.config import WorldConfig, default_as_of  # noqa: E402
from world.hubspot.emulator import EmulatorConfig, HubSpotEmulator  # noqa: E402
from world.urls import DbUrl, redact  # noqa: E402


def world_env(manifest: Manifest, hubspot_url: str, warehouse: str) -> dict[str, str]:
    """The settings that point the loaders and dbt at a local world and warehouse."""
    return {
        "SOURCES__SHOP__CREDENTIALS": DbUrl.parse(manifest.shop_url).sqlalchemy(),
        "SOURCES__CATALOG__CREDENTIALS": DbUrl.parse(manifest.catalog_url).sqlalchemy(),
        "SOURCES__HUBSPOT__ACCESS_TOKEN": DEFAULT_TOKEN,
        "SOURCES__HUBSPOT__BASE_URL": hubspot_url,
        "DESTINATION__DUCKDB__CREDENTIALS": warehouse,
        "SHOPSPHERE_DUCKDB_PATH": warehouse,
        # dlt's working state belongs with the warehouse it describes.
        "SHOPSPHERE_PIPELINES_DIR": str(Path(warehouse).parent / "dlt"),
        "DBT_PROFILES_DIR": str(ROOT),
    }


def run(step: str, argv: list[str], env: dict[str, str]) -> float:
    print(f"\n==> {step}: {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"pipeline: {step} failed (exit {result.returncode}); see the output above"
        )
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--world-dir", default="data/world")
    parser.add_argument("--warehouse", default=duckdb_path())
    parser.add_argument(
        "--skip-world", action="store_true", help="reuse the world already in --world-dir"
    )
    parser.add_argument(
        "--variant",
        action="store_true",
        help="the variant world: what production holds and the default world never makes",
    )
    args = parser.parse_args(argv)

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if args.skip_world:
        manifest = Manifest.load(args.world_dir)
        if "host=" in manifest.catalog_url:
            from world import embedded

            embedded.postgres_server(args.world_dir)
    else:
        shop_url, catalog_url = resolve_urls(args.world_dir, None, None)
        print(
            f"==> sources: {args.orders} orders (seed {args.seed})\n    shop    {redact(shop_url)}"
            f"\n    catalog {redact(catalog_url)}",
            flush=True,
        )
        cfg = WorldConfig(orders=args.orders, seed=args.seed, as_of=default_as_of())
        manifest, _, _ = create_world(
            cfg, args.world_dir, shop_url, catalog_url, variant=args.variant
        )
        print_report(manifest.report)
    timings["sources"] = time.perf_counter() - t0

    warehouse = str(Path(args.warehouse).resolve())
    Path(warehouse).parent.mkdir(parents=True, exist_ok=True)
    with HubSpotEmulator(manifest.hubspot_store, EmulatorConfig(tokens={DEFAULT_TOKEN})) as hubspot:
        env = {**os.environ, **world_env(manifest, hubspot.base_url, warehouse)}
        bin_dir = Path(sys.executable).parent
        if (ROOT / "loaders" / "run.py").exists():
            timings["loaders"] = run(
                "loaders", [sys.executable, "-m", "loaders.run", "--source", "all"], env
            )
    timings["dbt build"] = run("dbt build", [str(bin_dir / "dbt"), "build", "--target", "dev"], env)
    timings["dbt docs"] = run(
        "dbt docs", [str(bin_dir / "dbt"), "docs", "generate", "--target", "dev"], env
    )
    reports_dir = Path(warehouse).parent / "reports"
    timings["reports"] = run(
        "reports",
        [
            sys.executable,
            "-m",
            "reports",
            "build",
            "--warehouse",
            warehouse,
            "--out",
            str(reports_dir),
        ],
        env,
    )

    print("\n==> summary")
    for step, seconds in timings.items():
        print(f"    {step:<12} {seconds:7.1f} s")
    summarize(warehouse)
    print(
        f"\n    warehouse  {warehouse}"
        f"\n    reports    {reports_dir / 'index.html'}   (open it in a browser; no server needed)"
        f"\n    docs       dbt docs serve --profiles-dir .   (then open http://localhost:8080)"
    )
    return 0


def print_headline(con: Any) -> None:
    """The business's headline figures, asked of the semantic layer (reports.metrics)."""
    from reports.metrics import MetricsError, SemanticLayer, headline

    target = os.environ.get("DBT_TARGET_PATH", str(ROOT / "target"))
    try:
        figures = headline(SemanticLayer.from_target(target), con)
    except MetricsError as exc:
        print(f"\n    headline figures: {exc}")
        return
    print("\n    headline figures, all time (semantic layer: .venv/bin/mf query --metrics NAME)")
    for metric, label, value in figures:
        print(f"      {label:<36} {value:>16}   {metric}")


def summarize(warehouse: str) -> None:
    """Rows per raw, mart and history table; the data-quality report; failing data tests."""
    import duckdb

    with duckdb.connect(warehouse, read_only=True) as con:
        tables = con.execute(
            """select schema_name, table_name, estimated_size from duckdb_tables()
               where schema_name in ('raw_shop', 'raw_catalog', 'raw_hubspot', 'marts', 'snapshots')
                 and table_name not like '\\_dlt%' escape '\\'
               order by 1, 2"""
        ).fetchall()
        by_schema: dict[str, list[str]] = {}
        for schema, table, size in tables:
            by_schema.setdefault(schema, []).append(f"{table} {size:,}")
        for schema, items in by_schema.items():
            print(f"    {schema:<12} " + ", ".join(items))
        print_headline(con)
        print()
        print_dq_report(con, indent="    ")
        stored = [
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'test_failures'"
            ).fetchall()
        ]
        failing = [
            (name, n)
            for name in stored
            if (n := con.execute(f'select count(*) from test_failures."{name}"').fetchall()[0][0])
        ]
    print(
        f"\n    data tests that flagged rows (warn severity; an error fails the build): "
        f"{len(failing)} of {len(stored)}"
        + "".join(f"\n      test_failures.{name}: {n:,} rows" for name, n in failing)
    )


if __name__ == "__main__":
    sys.exit(main())
