"""Scale benchmark: the daily run's cost at several sizes of history, and how it grows.

    python -m benchmarks.scale [--orders 500000,2000000,8000000] [--fraction 0.01]
                               [--contacts N] [--reuse-world] [--reuse-raw]
                               [--work-dir data/bench-scale]

Runs the warehouse benchmark (benchmarks.warehouse: a full day, a day of change touching
`--fraction` of the rows, an incremental day; each step in its own process) once per size,
each in its own work folder, then prints per size and step:

- full and incremental wall seconds, and incremental/full;
- rows per second: rows landed or deleted for the loaders, orders held for the other steps;
- peak RSS of the full and the incremental step;

and the slope: how each incremental step grows when history grows x4 (from the two sizes
around it, as t(n2)/t(n1) scaled to a x4 step: 1.0 is flat, 4.0 grows with history).
`--contacts` caps the HubSpot portal (contacts and with them email events) of every size, so
that the large sizes fit in an hour. Targets (issues 13 and 26) are printed beside the figures.
The daily dbt build is the planned one (orchestration.build_plan), and each size ends with a
build after which nothing was loaded.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from benchmarks.warehouse import DAY_STEPS, Day, run_day

MB_TARGET = 1024
DBT_MB_TARGET = 1536  # issue 26: every dbt build at 8M under 1.5 GB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", default="500000,2000000,8000000")
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--contacts", type=int)
    parser.add_argument("--reuse-world", action="store_true")
    parser.add_argument(
        "--reuse-raw",
        action="store_true",
        help="keep each size's raw schemas (benchmarks.warehouse)",
    )
    parser.add_argument("--work-dir", default="data/bench-scale")
    args = parser.parse_args(argv)
    sizes = sorted(int(n) for n in args.orders.split(","))
    days = []
    for orders in sizes:
        # One MariaDB and PostgreSQL database pair per size, so that the worlds can be reused.
        days.append(
            run_day(
                orders,
                args.fraction,
                Path(args.work_dir) / str(orders),
                reuse_world=args.reuse_world,
                reuse_raw=args.reuse_raw,
                contacts=args.contacts,
                shop_url=f"mysql://root@127.0.0.1:3306/shopsphere_scale_{orders}_shop",
                catalog_url=f"postgresql://postgres@127.0.0.1:5432/shopsphere_scale_{orders}_catalog",
            )
        )
        print_curve(days, args)
    return 0


def print_curve(days: list[Day], args: argparse.Namespace) -> None:
    print(
        f"\nscale benchmark: incremental after a {args.fraction * 100:g}% day of change"
        + (f", HubSpot capped at {args.contacts:,} contacts" if args.contacts else "")
    )
    print(
        "\n| orders | step | full s | incr s | incr/full | full rows/s | incr rows/s "
        "| peak RSS MB full / incr |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for day in days:
        totals = [0.0, 0.0]
        for name in DAY_STEPS:
            full, incr = day.step("full", name), day.step("incremental", name)
            if full is None or incr is None:
                continue
            totals[0] += full.wall
            totals[1] += incr.wall
            print(
                f"| {day.orders:,} | {name} | {full.wall:.1f} | {incr.wall:.1f} "
                f"| {incr.wall / full.wall:.0%} | {full.rows / full.wall:,.0f} "
                f"| {incr.rows / incr.wall:,.0f} | {full.rss:,.0f} / {incr.rss:,.0f} |"
            )
        print(
            f"| {day.orders:,} | **the whole day** | {totals[0]:.1f} | {totals[1]:.1f} "
            f"| {totals[1] / totals[0]:.0%} | | | |"
        )
        idle = day.step("no change", "dbt build")
        if idle is not None:
            print(f"| {day.orders:,} | dbt build, nothing new since | | {idle.wall:.1f} | | | | |")
    if len(days) > 1:
        print("\nslope: incremental seconds, growth per x4 of history (1.0 = flat)\n")
        print("| step | " + " | ".join(f"{d.orders:,}" for d in days) + " | growth per x4 |")
        print("|---|" + "---:|" * (len(days) + 1))
        for name in DAY_STEPS:
            walls = [d.step("incremental", name) for d in days]
            if any(w is None for w in walls):
                continue
            growth = [
                4 ** (math.log(b.wall / a.wall) / math.log(db.orders / da.orders))
                for a, b, da, db in zip(walls, walls[1:], days, days[1:], strict=False)
                if a and b and a.wall > 0
            ]
            print(
                f"| {name} | "
                + " | ".join(f"{w.wall:.1f}" for w in walls if w)
                + " | "
                + ", ".join(f"{g:.2f}" for g in growth)
                + " |"
            )
    over = [
        f"{d.orders:,} {s.phase} {s.name} {s.rss:,.0f} MB"
        for d in days
        for s in d.steps
        if s.phase != "world" and s.rss >= (DBT_MB_TARGET if "dbt" in s.name else MB_TARGET)
    ]
    print(
        "\ntargets: dbt build incr/full <= 15% at 8M and <= 1.3x from 2M to 8M; dbt build with "
        "nothing new <= 5 s; peak RSS <= 1.5 GB for dbt, < 1 GiB for the other steps; "
        "loaders incr <= 5% of full"
    )
    print("steps over their memory target: " + ("; ".join(over) if over else "none"))


if __name__ == "__main__":
    raise SystemExit(main())
