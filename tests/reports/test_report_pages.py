"""The report site (`python -m reports build`) opened in headless Chromium from the file system,
with the network cut: every page renders its charts, logs no console error and requests nothing
outside the file system; the figures read back from the DOM equal the warehouse's.

Screenshots of every page (1280 px and phone width) are written to
$SHOPSPHERE_TEST_ARTIFACTS/reports (default data/test-artifacts/reports) for a reviewer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reports.build import build
from reports.html import NONE, count, money, number
from reports.source import Source
from tests.fixtures.browser import CHROMIUM_FLAGS, chromium_path
from tests.fixtures.dbt import ROOT, BuiltWorld

PAGES = ["index", "revenue", "customers", "campaigns", "products", "data-quality", "pipeline"]
ARTIFACTS = Path(os.environ.get("SHOPSPHERE_TEST_ARTIFACTS", ROOT / "data" / "test-artifacts"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class Opened:
    """A page as a reader sees it, with what it asked of the network and the console."""

    def __init__(self, browser: Any, path: Path, width: int = 1280) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.requests: list[str] = []
        self.errors: list[str] = []

        def route(request_route: Any) -> None:
            url = request_route.request.url
            if url.startswith("file://"):
                request_route.continue_()
            else:
                self.requests.append(url)
                request_route.abort()

        self.context.route("**/*", route)
        self.context.set_offline(True)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")

    def figure(self, name: str) -> str:
        return str(self.page.locator(f'[data-figure="{name}"]').first.inner_text()).strip()

    def cell(self, table: str, row_starts: str, column: int) -> str:
        rows = self.page.locator(f'table[data-figure="{table}"] tbody tr')
        for i in range(rows.count()):
            cells = rows.nth(i).locator("td")
            if cells.nth(0).inner_text().strip() == row_starts:
                return str(cells.nth(column).inner_text()).strip()
        raise AssertionError(f"{table}: no row {row_starts!r}")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(params=["default", "variant"])
def world(request: pytest.FixtureRequest) -> BuiltWorld:
    name = "built_warehouse" if request.param == "default" else "built_variant_warehouse"
    return request.getfixturevalue(name)


@pytest.fixture
def site(world: BuiltWorld, tmp_path: Path) -> Path:
    source = Source.duckdb(world.dbt.warehouse, world.dbt.target_dir)
    try:
        build(source, tmp_path / "reports")
    finally:
        source.close()
    return tmp_path / "reports"


def marts(world: BuiltWorld, sql: str, *params: Any) -> tuple[Any, ...]:
    with duckdb.connect(world.dbt.warehouse, read_only=True) as con:
        row = con.execute(sql, list(params)).fetchone()
    assert row is not None
    return tuple(row)


pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]


def test_every_page_renders_offline_with_its_charts_and_no_error(
    world: BuiltWorld, site: Path, browser: Any, request: pytest.FixtureRequest
) -> None:
    shots = ARTIFACTS / "reports" / request.node.callspec.id
    shots.mkdir(parents=True, exist_ok=True)
    assert sorted(p.stem for p in site.glob("*.html")) == sorted(PAGES)
    for name in PAGES:
        for width in (1280, 390):
            opened = Opened(browser, site / f"{name}.html", width)
            try:
                charts = opened.page.locator("div.chart")
                for i in range(charts.count()):  # Plotly drew each chart as SVG
                    assert charts.nth(i).locator("svg.main-svg").count() >= 1, (name, i)
                assert not opened.requests, (name, opened.requests)
                assert not opened.errors, (name, opened.errors)
                assert "Traceback" not in opened.page.content()
                assert opened.figure("as-of").startswith("Built ")
                # Nothing wider than the screen but the tables, which scroll in their box.
                overflow = opened.page.evaluate(
                    "document.documentElement.scrollWidth - window.innerWidth"
                )
                assert overflow <= 1, (name, width, overflow)
                opened.page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
            finally:
                opened.close()
    if not world.manifest.variant:
        opened = Opened(browser, site / "index.html")
        try:  # the business pages have charts to draw on the default world
            assert opened.page.locator("svg.main-svg").count() == 0  # KPIs and a table only
        finally:
            opened.close()
        for name in ("revenue", "customers", "campaigns", "products", "data-quality", "pipeline"):
            opened = Opened(browser, site / f"{name}.html")
            try:
                assert opened.page.locator("div.chart svg.main-svg").count() >= 1, name
                empty = opened.page.locator("section:has([data-empty]) h2").all_inner_texts()
                # A world just built has one version of every price: no change to show yet.
                assert set(empty) <= {"Price changes"}, (name, empty)
            finally:
                opened.close()


def test_the_figures_on_the_pages_equal_the_warehouse(
    world: BuiltWorld, site: Path, browser: Any
) -> None:
    pages = {name: Opened(browser, site / f"{name}.html") for name in PAGES}
    try:
        assert_overview_kpis(world, pages["index"])
        # Revenue: US dollar revenue by currency.
        (usd,) = marts(
            world,
            "select sum(net_revenue_usd) from marts.fct_orders "
            "where is_valid_order and currency = 'USD'",
        )
        assert pages["revenue"].cell("revenue.by_currency", "USD", 3) == money(usd)
        # Customers: the first country's customers.
        country, customers = marts(
            world,
            "select coalesce(country_name, 'Unknown'), count(*) from marts.dim_customers "
            "group by 1 order by 2 desc, 1 limit 1",
        )
        assert pages["customers"].cell("customers.countries", country, 1) == count(customers)
        # Campaigns: each campaign's attributed revenue (none in the variant portal).
        if not world.manifest.variant:
            name, revenue = marts(
                world,
                "select campaign_name, attributed_net_revenue_usd "
                "from marts.fct_campaign_performance order by 2 desc limit 1",
            )
            assert pages["campaigns"].cell("campaigns.returns", name, 5) == money(revenue)
        else:
            assert pages["campaigns"].page.locator("[data-empty]").count() == 2
        # Products: units on hand.
        (on_hand,) = marts(world, "select sum(quantity_on_hand) from marts.dim_products")
        assert pages["products"].figure("products.stock_on_hand") == count(on_hand)
        # Data quality: a rule's failing rows at the last build.
        (failing,) = marts(
            world,
            "select rows_failing from data_quality.dq_rule_results where rule_name = 'missing_country'",
        )
        assert pages["data-quality"].cell("dq.latest", "missing_country", 5) == count(failing)
        # Pipeline: the orders table's last load.
        (loaded,) = marts(
            world,
            "select rows_loaded from loader_audit.load_runs where table_name = 'orders' "
            "order by run_started_at desc limit 1",
        )
        assert pages["pipeline"].cell("pipeline.last_runs", "shop.orders", 5) == count(loaded)
        (builds,) = marts(world, "select count(*) from dbt_audit.runs")
        assert builds >= 1
        # Overview: the marts hold the loads up to the start of the last build without errors
        # (a plain dbt build: no build marks), and no load has ended since.
        (held,) = marts(
            world,
            "select max(started_at) from dbt_audit.runs where command = 'build' and errors = 0",
        )
        shown = f"{held:%Y-%m-%d %H:%M} UTC"
        assert pages["index"].cell("overview.marts", shown, 3) == "up to date"
    finally:
        for opened in pages.values():
            opened.close()


def assert_overview_kpis(world: BuiltWorld, overview: Any) -> None:
    """Overview: yesterday's KPIs and the previous 7 days' daily average."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    valid, net = marts(
        world,
        "select count(*), sum(net_revenue_usd) from marts.fct_orders "
        "where is_valid_order and order_date = ?",
        yesterday,
    )
    week_orders, _ = marts(
        world,
        "select count(*), sum(net_revenue_usd) from marts.fct_orders where is_valid_order "
        "and order_date between cast(? as date) - interval 7 day "
        "and cast(? as date) - interval 1 day",
        yesterday,
        yesterday,
    )
    if week_orders or valid:
        assert overview.figure("overview.valid_orders") == count(valid)
        assert overview.figure("overview.net_revenue_usd") == money(net or 0)
        assert overview.figure("overview.average_order_value_usd") == (
            money(net / valid) if valid else NONE
        )
        detail = overview.page.locator('[data-figure="overview.valid_orders"] + .detail')
        assert detail.inner_text().strip() == f"previous 7 days: {number(week_orders / 7)} a day"


def test_an_empty_warehouse_gives_pages_that_say_no_data_yet(tmp_path: Path, browser: Any) -> None:
    warehouse = tmp_path / "empty.duckdb"
    duckdb.connect(str(warehouse)).close()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reports",
            "build",
            "--warehouse",
            str(warehouse),
            "--target-path",
            str(tmp_path / "no-target"),
            "--out",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in PAGES:
        opened = Opened(browser, tmp_path / "site" / f"{name}.html")
        try:
            assert opened.page.locator("[data-empty]").count() >= 1, name
            assert "No data yet" in opened.page.inner_text("main")
            assert not opened.errors and not opened.requests
        finally:
            opened.close()
