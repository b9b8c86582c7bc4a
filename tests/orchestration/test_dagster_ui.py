"""The Dagster UI (dagster-webserver on loopback), opened in headless Chromium: the asset graph
holds the lineage from a source table to a mart. The screenshot is kept with the test output."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.browser import CHROMIUM_FLAGS, chromium_path, free_port
from tests.fixtures.dbt import ROOT
from tests.fixtures.orchestration import OpsWorld

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]

ARTIFACTS = Path(os.environ.get("SHOPSPHERE_TEST_ARTIFACTS", ROOT / "data" / "test-artifacts"))

LINEAGE = """{ assetNodes { assetKey { path } dependencyKeys { path } } }"""


@pytest.fixture(scope="module")
def webserver(ops_world: OpsWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("dagster_ui")
    shutil.copy(ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    log = (home / "webserver.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            *("-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", str(port)),
        ],
        cwd=ROOT,
        env={**os.environ, **ops_world.env, "DAGSTER_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: stopped with SIGKILL, as dagster ignores TERM
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert server.poll() is None, (home / "webserver.log").read_text()[-3000:]
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("dagster-webserver did not start in 180 s")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        log.close()


def _upstream(edges: dict[str, list[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for parent in edges.get(todo.pop(), []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_the_ui_shows_the_lineage_from_a_source_table_to_a_mart(webserver: str) -> None:
    answer = requests.post(f"{webserver}/graphql", json={"query": LINEAGE}, timeout=60).json()
    edges = {
        "/".join(n["assetKey"]["path"]): ["/".join(d["path"]) for d in n["dependencyKeys"]]
        for n in answer["data"]["assetNodes"]
    }
    upstream = _upstream(edges, "marts/fct_orders")
    assert {"raw_shop/orders", "staging/stg_shop__orders", "raw_hubspot/campaigns"} <= upstream
    assert "raw_catalog/products" in _upstream(edges, "marts/fct_order_items")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page: Any = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(
                # four steps upstream reach the raw tables; the graph is fitted to the page
                f"{webserver}/assets/marts/fct_orders?view=lineage&lineageScope=upstream&lineageDepth=4",
                wait_until="networkidle",
                timeout=120_000,
            )
            skip = page.get_by_role("button", name="Skip")  # the first-visit newsletter dialog
            if skip.count():
                skip.click()
            for label in ("fct_orders", "stg_shop__orders"):
                page.get_by_text(label, exact=True).first.wait_for(timeout=60_000)
            # the source table: the raw_shop group and its orders node, drawn last
            page.wait_for_function(
                "() => { const t = document.body.innerText.split(/\\s+/);"
                " return t.includes('raw_shop') && t.includes('orders'); }",
                timeout=60_000,
            )
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / "dagster-lineage-fct_orders.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
            print(f"screenshot: {shot}")
        finally:
            browser.close()
