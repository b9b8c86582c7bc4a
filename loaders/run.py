"""Land the sources in the warehouse's raw schemas.

    python -m loaders.run [--source shop|catalog|hubspot|all] [--table NAME ...]
                          [--full-refresh | --reconcile] [--destination duckdb|snowflake]

Incremental by default: from each SQL source's change stream where its server allows it (the
binlog, logical replication), else by the updated_at cursor with key scans
(`sources.<name>.capture`, loaders/engine/capture.py). `--full-refresh` reloads the selected
source or tables from scratch; `--reconcile` compares raw with the SQL sources range by range
and repairs what differs (the weekly safety net under the streams).
Progress goes to stderr; a summary table per source and table goes to stdout, and the same
figures are appended to `loader_audit.load_runs` in the warehouse.

Exit codes (loaders/shared/errors.py): 0 all loaded; 1 a terminal failure (fix, then rerun);
2 a wrong command line; 75 only transient failures (a source down, HubSpot 5xx/429, a lock
held by another run): retry later.

Settings (environment or .dlt/secrets.toml): SOURCES__SHOP__CREDENTIALS,
SOURCES__CATALOG__CREDENTIALS, SOURCES__HUBSPOT__ACCESS_TOKEN; the DuckDB file in
SHOPSPHERE_DUCKDB_PATH (default data/warehouse.duckdb); Snowflake in
DESTINATION__SNOWFLAKE__CREDENTIALS__*.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from loaders import sources as registry
from loaders.engine.runner import run_sql_source
from loaders.settings import settings
from loaders.shared.errors import EXIT_FAILED, EXIT_OK, EXIT_TRANSIENT, LoaderError, is_transient
from loaders.shared.load import Interrupted, is_interrupt
from loaders.shared.report import print_summary, write_audit
from loaders.shared.types import Progress, SqlSourceSpec, TableMetrics, emit, end_progress


def _runner(
    name: str, reconcile: bool = False
) -> Callable[[Sequence[str] | None, bool, str], list[TableMetrics]]:
    spec = registry.source(name)
    if not isinstance(spec, SqlSourceSpec):
        return spec.run
    return lambda tables, full_refresh, destination: run_sql_source(
        spec, tables, full_refresh, destination, reconcile=reconcile
    )


def _tables_for(source: str, requested: Sequence[str] | None, single: bool) -> list[str] | None:
    """--table values that apply to `source` ('orders' or 'shop.orders')."""
    if not requested:
        return None
    picked = []
    for name in requested:
        if "." in name:
            src, _, table = name.partition(".")
            if src == source:
                picked.append(table)
        elif single:
            picked.append(name)
    return picked


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM outside dlt's own handling: stop, record `interrupted`, exit non-zero."""
    raise Interrupted(f"interrupted by signal {signum}; the next run finishes what was extracted")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loaders.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--source",
        choices=[*registry.NAMES, "all"],
        action="append",
        help="a source to load (repeatable; default: all)",
    )
    parser.add_argument(
        "--table",
        action="append",
        help="a table of the source (repeatable); 'shop.orders' with --source all",
    )
    parser.add_argument(
        "--full-refresh", action="store_true", help="reload from scratch instead of incrementally"
    )
    parser.add_argument(
        "--reconcile",
        action="store_true",
        help="compare raw with the SQL sources range by range and repair what differs "
        "(the weekly safety net under the change streams); HubSpot is left out",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="a progress line per batch read (default: one line per table, rewritten on a terminal)",
    )
    parser.add_argument(
        "--destination",
        choices=["duckdb", "snowflake"],
        default=settings().destination,
    )
    args = parser.parse_args(argv)
    Progress.verbose = args.verbose
    chosen = args.source or ["all"]
    sources = (
        list(registry.NAMES) if "all" in chosen else [s for s in registry.NAMES if s in chosen]
    )
    if args.reconcile:
        if args.full_refresh:
            parser.error("--reconcile compares what raw holds: it does not go with --full-refresh")
        sources = [s for s in sources if registry.is_sql(s)]
    single = len(sources) == 1
    if args.table and not single and any("." not in t for t in args.table):
        parser.error("with several sources, name tables as source.table (e.g. shop.orders)")
    plan = {source: _tables_for(source, args.table, single=single) for source in sources}
    if args.table and not any(plan.values()):
        parser.error(
            f"--table {', '.join(args.table)} names no table of {', '.join(sources)} "
            "(name them as source.table, e.g. shop.orders)"
        )
    started = datetime.now(UTC)
    signal.signal(signal.SIGTERM, _interrupt)
    results = load_sources(
        plan,
        args.full_refresh,
        args.destination,
        only_named=bool(args.table),
        reconcile=args.reconcile,
    )
    end_progress()
    print_summary(results)
    write_audit(results, args.destination, started)
    for error in (r.error for r in results if r.error):
        print(f"loaders: {error}", file=sys.stderr)
    return exit_code(results)


def load_sources(
    plan: dict[str, list[str] | None],
    full_refresh: bool,
    destination: str,
    only_named: bool = False,
    reconcile: bool = False,
) -> list[TableMetrics]:
    """Run each source of `plan` (source -> its tables, None for all); one TableMetrics per
    table, a failure of a whole source as one row with table '*'. Raises nothing a source did."""
    results: list[TableMetrics] = []
    for source, tables in plan.items():
        if only_named and not tables:
            continue
        how = "reconcile" if reconcile else "full refresh" if full_refresh else "incremental"
        emit(f"==> {source} ({how}) -> {destination}")
        try:
            results.extend(_runner(source, reconcile)(tables, full_refresh, destination))
        except LoaderError as exc:
            results.append(
                TableMetrics(
                    source,
                    "*",
                    "-",
                    error=str(exc),
                    interrupted=is_interrupt(exc),
                    transient=is_transient(exc),
                )
            )
        except Exception as exc:  # an unexpected failure still ends in one line and an audit row
            results.append(
                TableMetrics(
                    source,
                    "*",
                    "-",
                    error=f"{source}: {exc.__class__.__name__}: {exc}",
                    transient=is_transient(exc),
                )
            )
    return results


def exit_code(results: list[TableMetrics]) -> int:
    """0 when all loaded, 75 when every failure is transient, 1 otherwise."""
    failed = [r for r in results if r.error]
    if not failed:
        return EXIT_OK
    return EXIT_TRANSIENT if all(r.transient for r in failed) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
