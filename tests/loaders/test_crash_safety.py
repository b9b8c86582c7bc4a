"""A loader killed mid-run, then run again, ends with raw equal to the source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.loading import Warehouse
from tests.fixtures.raw_compare import CATALOG_TABLES, SHOP_TABLES, assert_raw_equals_source
from tests.fixtures.worlds import SourceWorld
from world.catalog.db import CatalogDB
from world.change import apply_change
from world.hubspot.store import HubSpotStore
from world.shop.db import ShopDB

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.postgres,
    pytest.mark.parametrize("capture", ["cursor", "stream"]),
]

CRASH_RUN = str(Path(__file__).with_name("crash_run.py"))


def _equal(world: SourceWorld, wh: Warehouse) -> None:
    assert_raw_equals_source(world.shop_url, wh.path, "raw_shop", SHOP_TABLES)
    assert_raw_equals_source(world.catalog_url, wh.path, "raw_catalog", CATALOG_TABLES)


def _killed(wh: Warehouse, at: str) -> None:
    result = wh.run(
        wrapper=CRASH_RUN,
        extra_env={"SHOPSPHERE_TEST_KILL_AT": at, "SOURCES__SHOP__CHUNK_ROWS": "500"},
    )
    assert result.returncode == -9, (
        f"expected SIGKILL at {at}, got {result.returncode}: {result.output[-2000:]}"
    )


@pytest.mark.parametrize("kill_at", ["extract:5", "load:2", "load:6"])
def test_killed_during_first_load_then_rerun(
    make_world: Callable[..., SourceWorld],
    make_warehouse: Callable[[SourceWorld], Warehouse],
    kill_at: str,
) -> None:
    world = make_world(orders=3_000, seed=41)
    wh = make_warehouse(world)
    _killed(wh, kill_at)
    wh.load()
    _equal(world, wh)
    wh.load()
    assert all(r["rows_loaded"] == 0 for r in wh.audit())


@pytest.mark.parametrize("kill_at", ["extract:3", "load:1", "load:3"])
def test_killed_during_incremental_load_then_rerun(
    make_world: Callable[..., SourceWorld],
    make_warehouse: Callable[[SourceWorld], Warehouse],
    kill_at: str,
) -> None:
    world = make_world(orders=3_000, seed=42)
    wh = make_warehouse(world)
    wh.load()
    apply_change(
        ShopDB(world.shop_url),
        CatalogDB(world.catalog_url),
        HubSpotStore(world.hubspot_store),
        seed=42,
        number=1,
        fraction=0.05,
    )
    _killed(wh, kill_at)
    result = wh.load()
    if kill_at.startswith("load"):
        assert "finishing an interrupted load" in result.stderr
    _equal(world, wh)
    # Nothing is duplicated either: one row per key.
    for table, (key,) in {"orders": ("order_id",), "order_items": ("order_item_id",)}.items():
        assert wh.sql(f"select count(*) = count(distinct {key}) from raw_shop.{table}") == [(True,)]
