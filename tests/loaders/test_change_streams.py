"""What only a change stream has to get right: a first copy consistent with the stream, a lost
position said and resynced, TRUNCATE, the reconciliation and erasure beside the stream (running
one: test_stream_operations). The proofs every capture mode shares are in test_sql_loaders,
test_crash_safety and the fault tests (parametrized by capture)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.loading import Warehouse
from tests.fixtures.raw_compare import CATALOG_TABLES, SHOP_TABLES, assert_raw_equals_source
from tests.fixtures.worlds import SourceWorld
from tests.loaders.stream_checks import by_table, catalog_sql, equal_raw, purge_binlogs, shop_sql

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

DURING_COPY = str(Path(__file__).with_name("change_during_copy.py"))
STREAM = pytest.mark.parametrize("capture", ["stream"])


@STREAM
def test_changes_made_during_the_first_copy_are_all_in_raw(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    world = make_world(orders=3_000, seed=71)
    wh = make_warehouse(world)
    # Rows of the first key range (read already) and of the last (not read yet) change while
    # order_items is copied: updated, deleted, a key moved, a row inserted.
    shop = {
        "table": "order_items",
        "url": world.shop_url,
        "statements": [
            "update order_items set quantity = quantity + 100 where order_item_id in (1, 2, 3)",
            "delete from order_items where order_item_id in (4, 5)",
            "update order_items set order_item_id = 900000 where order_item_id = 6",
            "update order_items set quantity = 77 where order_item_id = (select m from "
            "(select max(order_item_id) as m from order_items) x)",
            "insert into order_items (order_id, product_id, quantity, unit_price) "
            "values (1, 1, 3, 9.99)",
            "update orders set utm_source = 'during-copy' where order_id = 1",
        ],
    }
    result = wh.run(
        "--source",
        "shop",
        wrapper=DURING_COPY,
        extra_env={
            "SHOPSPHERE_TEST_DURING_COPY": json.dumps(shop),
            "SOURCES__SHOP__CHUNK_ROWS": "500",
        },
    )
    assert result.returncode == 0, result.output[-3000:]
    assert_raw_equals_source(world.shop_url, wh.path, "raw_shop", SHOP_TABLES)
    items = by_table(wh.audit())["shop.order_items"]
    assert items["load_mode"] == "full" and "replayed from the stream" in str(items["note"])
    assert wh.sql("select quantity from raw_shop.order_items where order_item_id = 1")[0][0] > 100
    catalog = {
        "table": "products",
        "url": world.catalog_url,
        "statements": [
            "update catalog.products set list_price = list_price + 1 where product_id in (1, 2)",
            "update catalog.products set updated_at = now() - interval '30 days', "
            "list_price = 1.23 where product_id = 3",  # a change no cursor could see
            "delete from catalog.inventory_levels where product_id = 4",
            "update catalog.categories set name = name || ' (renamed)' where category_id = 1",
        ],
    }
    result = wh.run(
        "--source",
        "catalog",
        wrapper=DURING_COPY,
        extra_env={
            "SHOPSPHERE_TEST_DURING_COPY": json.dumps(catalog),
            "SOURCES__CATALOG__CHUNK_ROWS": "50",
        },
    )
    assert result.returncode == 0, result.output[-3000:]
    assert_raw_equals_source(world.catalog_url, wh.path, "raw_catalog", CATALOG_TABLES)
    wh.load()  # and the next run has nothing left to do
    assert all(r["rows_loaded"] == 0 and r["rows_deleted"] == 0 for r in wh.audit())


@STREAM
def test_a_purged_binlog_and_a_dropped_slot_are_said_and_resynced(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    world = make_world(orders=1_000, seed=72)
    wh = make_warehouse(world)
    wh.load()
    world.change(1)
    # The binlog the stored position is in is purged, and the catalog's slot is dropped.
    purge_binlogs(world)
    catalog_sql(
        world,
        "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
        "where database = current_database()",
    )
    # With on_lost_position = fail: one line per source, nothing loaded, exit 1.
    failed = wh.run(
        extra_env={
            "SOURCES__SHOP__ON_LOST_POSITION": "fail",
            "SOURCES__CATALOG__ON_LOST_POSITION": "fail",
        }
    )
    assert failed.returncode == 1, failed.output[-3000:]
    lines = [line for line in failed.stderr.splitlines() if "position" in line and "lost" in line]
    assert any(line.strip().startswith("shop:") and "purged" in line for line in lines), lines
    assert any(line.strip().startswith("catalog:") and "dropped" in line for line in lines), lines
    assert {r["status"] for r in wh.audit()} == {"failed"}
    # By default the tables are copied afresh and the stream goes on from before the copy.
    result = wh.load()
    audit = by_table(wh.audit())
    assert {r["load_mode"] for r in audit.values()} == {"full"}
    assert all("resync" in str(r["note"]) for r in audit.values()), audit
    lost = dict(
        wh.sql(
            "select source_name, lost from loader_audit.stream_positions where run_id = "
            "(select max_by(run_id, checked_at) from loader_audit.stream_positions)"
        )
    )
    assert "purged" in lost["shop"] and "dropped" in lost["catalog"], lost
    assert "lost" in result.stderr
    equal_raw(world, wh)
    world.change(2)
    wh.load()
    assert {r["load_mode"] for r in wh.audit()} == {"incremental"}
    equal_raw(world, wh)


@STREAM
def test_a_truncate_empties_the_raw_table(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    world = make_world(orders=800, seed=73)
    wh = make_warehouse(world)
    wh.load()
    held = wh.sql("select count(*) from raw_shop.payments")[0][0]
    shop_sql(
        world,
        "truncate table payments",
        "insert into payments (order_id, method, status, amount, currency) "
        "values (1, 'card', 'captured', 5.00, 'USD')",
    )
    catalog_sql(world, "truncate catalog.inventory_levels")
    wh.load()
    audit = by_table(wh.audit())
    # TRUNCATE resets AUTO_INCREMENT: the new payment takes key 1 again, written, not deleted.
    assert audit["shop.payments"]["rows_deleted"] == held - 1
    assert wh.sql("select count(*) from raw_shop.payments") == [(1,)]
    assert wh.sql("select count(*) from raw_catalog.inventory_levels") == [(0,)]
    equal_raw(world, wh)


@STREAM
def test_the_reconciliation_repairs_what_the_stream_never_carried(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    world = make_world(orders=1_500, seed=77)
    wh = make_warehouse(world)
    wh.load()
    # Changes the streams never see: the binlog off for a session, a table out of the
    # publication while it changes.
    shop_sql(
        world,
        "set session sql_log_bin = 0",
        "update orders set utm_source = 'unlogged' where order_id in (7, 1200)",
        "delete from order_items where order_item_id in (10, 3000)",
        "insert into payments (order_id, method, status, amount, currency) "
        "values (2, 'card', 'captured', 6.00, 'USD')",
    )
    publication = catalog_sql(world, "select pubname from pg_publication")[0][0]
    catalog_sql(
        world,
        f"alter publication {publication} drop table catalog.inventory_levels",
        "update catalog.inventory_levels set quantity_on_hand = 12345, updated_at = now() "
        "where product_id = 3",
        f"alter publication {publication} add table catalog.inventory_levels",
    )
    wh.load()
    assert all(r["rows_loaded"] == 0 for r in wh.audit())
    with pytest.raises(AssertionError):
        equal_raw(world, wh)
    repaired = wh.load("--reconcile")
    rows = wh.audit()
    audit = by_table(rows)
    assert {r["load_mode"] for r in rows} == {"reconcile"}
    assert audit["shop.order_items"]["rows_deleted"] == 2
    assert audit["shop.customers"]["rows_loaded"] == 0  # untouched tables cost one aggregate
    assert "ranges" in str(audit["shop.orders"]["note"])
    assert "==> hubspot" not in repaired.stderr
    equal_raw(world, wh)
    wh.load()  # the stream goes on from its position: nothing left to do
    assert all(r["rows_loaded"] == 0 and r["rows_deleted"] == 0 for r in wh.audit())
    equal_raw(world, wh)


@STREAM
def test_an_erased_person_stays_erased_when_the_stream_carries_their_row(
    make_world: Callable[..., SourceWorld],
    make_warehouse: Callable[[SourceWorld], Warehouse],
    tmp_path: Path,
) -> None:
    world = make_world(orders=300, seed=79)
    wh = make_warehouse(world)
    wh.load("--source", "shop")
    customer, email = shop_sql(
        world,
        "select customer_id, email from customers where email like '%@%' "
        "and deleted_at is null order by customer_id limit 1",
    )[0]
    erased = subprocess.run(
        [sys.executable, "-m", "loaders.erase", "--email", "-", "--customer-id", str(customer)],
        input=email,
        cwd=Path(__file__).resolve().parents[2],
        env={**wh.env, "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert erased.returncode == 0, (erased.stdout + erased.stderr)[-3000:]
    # The shop still holds the person and changes their row: the stream carries its full image,
    # PII included, and the load blanks it before it lands.
    shop_sql(world, f"update customers set city = 'Elsewhere' where customer_id = {customer}")
    loaded = wh.load("--source", "shop")
    assert "PII is blanked" in loaded.stderr
    assert by_table(wh.audit())["shop.customers"]["rows_loaded"] >= 1
    assert wh.sql(
        f"select email, first_name, last_name, phone, city from raw_shop.customers "
        f"where customer_id = {customer}"
    ) == [(None, None, None, None, None)]


@STREAM
def test_an_update_that_leaves_a_large_value_unchanged_lands_whole(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    """PostgreSQL does not send an unchanged TOASTed value (a large JSON document kept out of
    line): the row is read again by its key."""
    world = make_world(orders=200, seed=80)
    wh = make_warehouse(world)
    wh.load("--source", "catalog")
    catalog_sql(
        world,
        "update catalog.products set attributes = jsonb_build_object('notes', (select "
        "string_agg(md5(random()::text), '') from generate_series(1, 400))) where product_id = 3",
    )
    wh.load("--source", "catalog")
    catalog_sql(
        world, "update catalog.products set list_price = list_price + 1 where product_id = 3"
    )
    wh.load("--source", "catalog")
    assert by_table(wh.audit())["catalog.products"]["rows_loaded"] == 1
    assert_raw_equals_source(world.catalog_url, wh.path, "raw_catalog", CATALOG_TABLES)
