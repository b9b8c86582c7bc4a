"""`python -m reports build`: the report site, from the warehouse, as static pages.

    python -m reports build [--out data/reports] [--warehouse data/warehouse.duckdb]
                            [--target-path target] [--snowflake]

Writes index.html (the overview) and one page per topic, plus assets/plotly.min.js. The pages
open from the file system and request nothing from the network.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from loaders.settings import settings
from loaders.shared.warehouse import duckdb_path

from .html import Page, render_page
from .pages import PAGES
from .source import Source

ROOT = Path(__file__).resolve().parents[1]


def plotly_js() -> str:
    """Plotly's own bundle, from the plotly package (no CDN)."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def build(source: Source, out: Path, now: datetime | None = None) -> list[Path]:
    """Every page into `out`; returns the files written."""
    now = now or datetime.now(UTC)
    freshest = source.freshest_load()
    as_of = f"Built {now:%Y-%m-%d %H:%M} UTC · freshest load " + (
        f"{freshest:%Y-%m-%d %H:%M} UTC" if freshest else "none yet"
    )
    pages: list[Page] = [make(source, now) for make in PAGES]
    (out / "assets").mkdir(parents=True, exist_ok=True)
    written = [out / "assets" / "plotly.min.js"]
    written[0].write_text(plotly_js(), encoding="utf-8")
    for page in pages:
        path = out / f"{page.slug}.html"
        tmp = path.with_suffix(".html.tmp")
        tmp.write_text(render_page(page, pages, as_of), encoding="utf-8")
        tmp.replace(path)  # a reader never sees half a page
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--out", default=str(ROOT / "data" / "reports"))
    parser.add_argument(
        "--warehouse",
        default=duckdb_path(),
    )
    parser.add_argument(
        "--target-path",
        default=settings().dbt_target_path,
        help="the dbt target folder whose manifest and semantic manifest describe the warehouse",
    )
    parser.add_argument(
        "--snowflake",
        action="store_true",
        help="read Snowflake (SNOWFLAKE_* settings) instead of the DuckDB warehouse",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    source = (
        Source.snowflake(args.target_path)
        if args.snowflake
        else Source.duckdb(args.warehouse, args.target_path)
    )
    try:
        written = build(source, Path(args.out))
    finally:
        source.close()
    for path in written:
        print(f"    {path}  {path.stat().st_size / 1024:,.0f} KiB")
    print(
        f"reports: {len(written) - 1} pages in {time.perf_counter() - started:.1f} s -> {written[1]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
