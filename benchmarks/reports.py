"""Report-site benchmark: `python -m reports build` on a built warehouse, page by page.

    python -m benchmarks.reports [--work-dir data/bench] [--repeat 3]

Reads the warehouse the warehouse benchmark built (`python -m benchmarks.warehouse --orders N`
leaves data/bench/warehouse_dbt.duckdb and its target folder), builds the seven pages
`--repeat` times and prints, per page, the best seconds and its size, then the whole build's
best seconds and peak RSS. Targets (issue 12): the whole build under 10 s at 2M orders and
every page under 5 MB; the pages hold aggregates only, never raw rows.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work-dir", default="data/bench")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(args.work_dir).resolve()
    warehouse, target = work / "warehouse_dbt.duckdb", work / "target_dbt"
    if not warehouse.exists() or not (target / "semantic_manifest.json").exists():
        raise SystemExit(
            f"benchmark: no built warehouse in {work}; run `python -m benchmarks.warehouse "
            f"--orders N --work-dir {args.work_dir}` first"
        )

    from reports import pages as page_builders
    from reports.build import build
    from reports.source import Source

    source = Source.duckdb(warehouse, target)
    try:
        (orders,) = source.sql("select count(*) as n from marts.fct_orders")[0].values()
        now = datetime.now(UTC)
        per_page: dict[str, float] = {}
        for make in page_builders.PAGES:
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                page = make(source, now)
                best = min(best, time.perf_counter() - t0)
            per_page[page.slug] = best
        whole = float("inf")
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                written = build(source, Path(tmp))
                whole = min(whole, time.perf_counter() - t0)
            sizes = {p.stem: p.stat().st_size for p in written}
    finally:
        source.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nreports on {warehouse} ({orders:,} orders), best of {args.repeat}\n")
    print("| page | queries + layout (s) | size (KiB) |\n|---|---|---|")
    for slug, seconds in per_page.items():
        print(f"| {slug}.html | {seconds:.2f} | {sizes[slug] / 1024:,.0f} |")
    print(f"| assets/plotly.min.js (shared) | | {sizes['plotly.min'] / 1024:,.0f} |")
    print(f"\nwhole build: {whole:.2f} s; peak RSS {peak:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
