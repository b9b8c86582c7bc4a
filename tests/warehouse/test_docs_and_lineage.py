"""`dbt docs serve`, opened in headless Chromium as a reader would: the lineage graph of every
dashboard starts at the three source systems and runs through the marts."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import CHROMIUM_FLAGS, chromium_path, free_port
from tests.fixtures.dbt import DBT, ROOT, BuiltWorld

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]

# Which source systems each mart the report pages read must be traced back to in the graph.
# (fct_daily_revenue is finance's table for its own tools: the pages ask the semantic layer.)
MART_SYSTEMS = {
    "fct_orders": {"shop", "hubspot"},
    "fct_order_items": {"shop", "catalog"},
    "dim_customers": {"shop", "hubspot"},
    "dim_products": {"catalog"},
    "fct_campaign_performance": {"shop", "hubspot"},
    "fct_email_sends": {"hubspot"},
}


@pytest.fixture(scope="module")
def docs_url(built_warehouse: BuiltWorld) -> Iterator[str]:
    """`dbt docs generate` then `dbt docs serve` on the built warehouse, on a free port."""
    world = built_warehouse
    world.dbt.run("docs", "generate", "--target", "ci", "--vars", world.vars)
    port = free_port()
    server = subprocess.Popen(
        [DBT, "docs", "serve", "--target", "ci", "--port", str(port), "--no-browser"],
        cwd=ROOT,
        env=world.dbt.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert server.poll() is None, "dbt docs serve exited"
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: it did not exit on SIGTERM in time
            server.kill()
            server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


GRAPH_JS = """() => {
    const graph = angular.element(document.body).injector().get('graph').graph;
    const elements = graph.elements || [];
    return {
        nodes: elements.filter(e => e.group === 'nodes').map(e => e.data.id),
        edges: elements.filter(e => e.group === 'edges').map(e => [e.data.source, e.data.target]),
    };
}"""


def test_the_lineage_of_every_dashboard_starts_at_the_three_source_systems(
    docs_url: str, browser: Any, built_warehouse: BuiltWorld
) -> None:
    page = browser.new_page(viewport={"width": 1800, "height": 1100})
    # The docs site's own lineage view: every ancestor of every exposure (dashboard), no tests.
    page.goto(f"{docs_url}/#!/overview?g_v=1&g_i=%2Bexposure:*&g_e=resource_type:test")
    page.wait_for_function(
        "() => { try { return (angular.element(document.body).injector().get('graph')"
        ".graph.elements || []).length > 20 } catch (e) { return false } }",
        timeout=60_000,
    )
    page.wait_for_timeout(1500)  # let the layout settle for the screenshot
    shot = Path(built_warehouse.dbt.target_dir) / "lineage.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 50_000  # a drawn graph, not an empty frame
    canvas = page.evaluate(
        "() => Array.from(document.querySelectorAll('canvas')).map(c => c.width * c.height)"
    )
    assert max(canvas, default=0) > 100_000

    graph = page.evaluate(GRAPH_JS)
    nodes = set(graph["nodes"])
    parents: dict[str, set[str]] = {}
    for source, target in graph["edges"]:
        parents.setdefault(target, set()).add(source)

    def systems_upstream(node: str) -> set[str]:
        seen, stack, found = set(), [node], set()
        while stack:
            for parent in parents.get(stack.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
                    if parent.startswith("source.shopsphere."):
                        found.add(parent.split(".")[2])
        return found

    assert {n.split(".")[2] for n in nodes if n.startswith("source.")} == {
        "shop",
        "catalog",
        "hubspot",
    }
    exposures = {n for n in nodes if n.startswith("exposure.")}
    assert len(exposures) >= 5
    for mart, systems in MART_SYSTEMS.items():
        node = f"model.shopsphere.{mart}"
        assert node in nodes, mart
        assert systems <= systems_upstream(node), (mart, systems_upstream(node))
    # Dashboards as a whole read all three systems.
    assert set().union(*(systems_upstream(e) for e in exposures)) == {"shop", "catalog", "hubspot"}
    page.close()


def test_a_source_page_names_the_system_table_it_comes_from(docs_url: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{docs_url}/#!/source/source.shopsphere.shop.orders")
    page.wait_for_selector("text=system_table", timeout=60_000)
    text = page.inner_text("body")
    assert "shop.orders" in text and "dlt (loaders/shop)" in text
    page.close()


def _artifacts(world: BuiltWorld) -> tuple[dict[str, Any], dict[str, Any]]:
    target = Path(world.dbt.target_dir)
    return (
        json.loads((target / "manifest.json").read_text()),
        json.loads((target / "catalog.json").read_text()),
    )


def test_every_model_and_column_is_described(docs_url: str, built_warehouse: BuiltWorld) -> None:
    manifest, catalog = _artifacts(built_warehouse)
    problems = []
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] != "model":
            continue
        layer = node["fqn"][1]
        if not node["description"].strip():
            problems.append(f"{node['name']}: no description")
        if layer in ("marts", "data_quality") and "one row per" not in node["description"].lower():
            problems.append(f"{node['name']}: the description does not state the grain")
        # Every column of every model, staging and intermediate included: what it holds.
        built = catalog["nodes"].get(uid, {}).get("columns", {})
        for column in {*built, *node["columns"]}:
            if not node["columns"].get(column.lower(), {}).get("description"):
                problems.append(f"{node['name']}.{column}: not described")
        if layer == "marts" and not node["config"]["contract"]["enforced"]:
            problems.append(f"{node['name']}: public mart without an enforced contract")
    for macro in manifest["macros"].values():  # dispatched implementations included
        if macro["package_name"] == "shopsphere" and not macro["description"]:
            problems.append(f"macro {macro['name']}: not documented")
    owners = {name: group["owner"] for name, group in manifest["groups"].items()}
    for node in manifest["nodes"].values():  # an owner for every model, seed and snapshot
        if node["resource_type"] in ("model", "seed", "snapshot"):
            group = node.get("group")
            if not group or not owners.get(f"group.shopsphere.{group}", {}).get("email"):
                problems.append(f"{node['name']}: no owner (a group with an owner)")
    assert not problems, "\n".join(problems)


def test_every_model_tests_its_key_and_only_staging_reads_sources(
    docs_url: str, built_warehouse: BuiltWorld
) -> None:
    manifest, _ = _artifacts(built_warehouse)
    tested: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("test_metadata"):
            for parent in node["depends_on"]["nodes"]:
                tested.setdefault(parent, set()).add(node["test_metadata"]["name"])
    problems = []
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] != "model":
            continue
        kinds = tested.get(uid, set())
        if not {"unique", "not_null"} <= kinds and "unique_combination_of_columns" not in kinds:
            problems.append(f"{node['name']}: no unique/not_null test on its key")
        reads_sources = any(d.startswith("source.") for d in node["depends_on"]["nodes"])
        if reads_sources != (node["fqn"][1] == "staging"):
            problems.append(f"{node['name']}: source() belongs in staging, and only there")
    for source in manifest["sources"].values():
        if source["identifier"].startswith("_deleted_"):  # written only when rows are deleted
            if source["freshness"] and source["freshness"].get("error_after", {}).get("count"):
                problems.append(f"source {source['identifier']}: deleted keys are never stale")
        elif not (source["loader"] and source["loaded_at_field"] and source["freshness"]):
            problems.append(f"source {source['name']}.{source['identifier']}: no loader/freshness")
        if not source["meta"].get("system_table") and source["identifier"] != "_dlt_loads":
            problems.append(f"source {source['name']}.{source['identifier']}: no meta.system_table")
    assert not problems, "\n".join(problems)
