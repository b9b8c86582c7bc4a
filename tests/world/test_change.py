"""A day of change does what it says in every source."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.fixtures.services import mysql_connect, pg_connect
from tests.fixtures.worlds import SourceWorld
from world.change import ChangeReport, add_contact_property
from world.hubspot.store import HubSpotStore
from world.urls import DbUrl

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]


def _snapshot(world: SourceWorld) -> dict[str, object]:
    url = DbUrl.parse(world.shop_url)
    conn = mysql_connect(url, url.database)
    snap: dict[str, object] = {}
    with conn.cursor() as cur:
        for table, pk in (
            ("customers", "customer_id"),
            ("orders", "order_id"),
            ("order_items", "order_item_id"),
            ("payments", "payment_id"),
        ):
            cur.execute(f"select {pk}, updated_at from {table}")
            snap[table] = dict(cur.fetchall())
        cur.execute("select order_id, status from orders")
        snap["status"] = dict(cur.fetchall())
    conn.close()
    conn = pg_connect(DbUrl.parse(world.catalog_url))
    with conn.cursor() as cur:
        cur.execute("select product_id, list_price, updated_at from catalog.products")
        snap["products"] = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
        cur.execute(
            "select product_id, warehouse_code, quantity_on_hand from catalog.inventory_levels"
        )
        snap["stock"] = {(r[0], r[1]): r[2] for r in cur.fetchall()}
    conn.close()
    return snap


def _apply(world: SourceWorld, number: int = 1, new_column: bool = False) -> ChangeReport:
    return world.change(number, new_column=new_column)  # type: ignore[no-any-return]


@pytest.fixture
def changed(
    make_world: Callable[..., SourceWorld],
) -> tuple[SourceWorld, dict[str, object], ChangeReport]:
    world = make_world(orders=3_000, seed=21)
    before = _snapshot(world)
    report = _apply(world, new_column=True)
    return world, before, report


def test_shop_change(changed: tuple[SourceWorld, dict[str, object], ChangeReport]) -> None:
    world, before, report = changed
    after = _snapshot(world)
    orders_before, orders_after = before["orders"], after["orders"]
    assert isinstance(orders_before, dict) and isinstance(orders_after, dict)
    new_orders = set(orders_after) - set(orders_before)
    assert len(new_orders) == report.counts["shop.orders added"] > 0
    # Hard deletes: gone from orders, items and payments alike.
    purged = set(report.hard_deleted_order_ids)
    assert purged and not purged & set(orders_after)
    url = DbUrl.parse(world.shop_url)
    conn = mysql_connect(url, url.database)
    with conn.cursor() as cur:
        marks = ",".join(str(i) for i in purged)
        for table in ("order_items", "payments"):
            cur.execute(f"select count(*) from {table} where order_id in ({marks})")
            assert cur.fetchone()[0] == 0, table
        # Soft deletes: deleted_at set, PII blanked, updated_at moved.
        marks = ",".join(str(i) for i in report.soft_deleted_customer_ids)
        cur.execute(
            f"""select count(*) from customers where customer_id in ({marks}) and deleted_at is not null
                and email is null and phone is null and first_name = '' and last_name = ''"""
        )
        assert cur.fetchone()[0] == len(report.soft_deleted_customer_ids) > 0
        # Cursor ties: one UPDATE statement stamps many rows with the same updated_at.
        cur.execute(
            "select max(n) from (select updated_at, count(*) as n from orders group by updated_at) t"
        )
        assert cur.fetchone()[0] > 1
    conn.close()
    # Status changes moved forward and moved updated_at; some are weeks late.
    status_before, status_after = before["status"], after["status"]
    assert isinstance(status_before, dict) and isinstance(status_after, dict)
    changed_status = {
        o for o in orders_before if o in status_after and status_after[o] != status_before[o]
    }
    assert len(changed_status) == report.counts["shop.orders status changed"] > 0
    assert all(orders_after[o] > orders_before[o] for o in changed_status)
    assert report.late_updated_order_ids and set(report.late_updated_order_ids) <= changed_status


def test_catalog_change_and_drift(
    changed: tuple[SourceWorld, dict[str, object], ChangeReport],
) -> None:
    world, before, report = changed
    after = _snapshot(world)
    products_before, products_after = before["products"], after["products"]
    assert isinstance(products_before, dict) and isinstance(products_after, dict)
    repriced = [p for p in products_before if products_after[p][0] != products_before[p][0]]
    assert len(repriced) == report.counts["catalog.products repriced"] > 0
    assert all(products_after[p][1] > products_before[p][1] for p in repriced)
    assert (
        len(set(products_after) - set(products_before)) == report.counts["catalog.products added"]
    )
    stock_before, stock_after = before["stock"], after["stock"]
    assert isinstance(stock_before, dict) and isinstance(stock_after, dict)
    assert sum(1 for k in stock_before if stock_after[k] != stock_before[k]) > 0
    # The new column exists and is backfilled without touching updated_at.
    assert report.new_column == "weight_kg"
    conn = pg_connect(DbUrl.parse(world.catalog_url))
    with conn.cursor() as cur:
        cur.execute("select count(*), count(weight_kg) from catalog.products")
        total, filled = cur.fetchone()
        assert filled == total
        cur.execute(
            "select count(*) from catalog.products where updated_at > now() - interval '1 hour'"
        )
        assert cur.fetchone()[0] == len(repriced) + report.counts["catalog.products added"]
    conn.close()


def test_hubspot_change(changed: tuple[SourceWorld, dict[str, object], ChangeReport]) -> None:
    world, _, report = changed
    store = HubSpotStore(world.hubspot_store)
    with store.connect() as conn:
        archived = {
            r[0]
            for r in conn.execute(
                "select id from objects where object_type = 'contacts' and archived = 1 and archived_at > '2026'"
            )
        }
        assert set(report.archived_contact_ids) <= archived
        recent = conn.execute(
            "select count(*) from objects where object_type = 'contacts' and updated_at >= ?",
            (
                conn.execute(
                    "select max(updated_at) from objects where object_type = 'deals'"
                ).fetchone()[0][:10],
            ),
        ).fetchone()[0]
        assert recent >= report.counts["hubspot.contacts modified"]
        props = json.loads(
            conn.execute(
                "select properties from objects where object_type = 'contacts' order by id desc limit 1"
            ).fetchone()[0]
        )
        assert (
            props["lastmodifieddate"]
            == conn.execute(
                "select updated_at from objects where object_type = 'contacts' order by id desc limit 1"
            ).fetchone()[0]
        )
        assert report.counts["hubspot.email_events added"] > 0


def test_second_change_is_different_and_custom_property(
    make_world: Callable[..., SourceWorld],
) -> None:
    world = make_world(orders=2_000, seed=22)
    first = _apply(world, 1)
    second = _apply(world, 2, new_column=True)
    assert first.hard_deleted_order_ids != second.hard_deleted_order_ids
    third = _apply(world, 3, new_column=True)
    assert (second.new_column, third.new_column) == ("weight_kg", "extra_attribute_3")
    store = HubSpotStore(world.hubspot_store)
    add_contact_property(store, "loyalty_tier", {1001: "gold", 1002: "silver"})
    with store.connect() as conn:
        assert (
            conn.execute(
                "select count(*) from properties where object_type = 'contacts' and name = 'loyalty_tier'"
            ).fetchone()[0]
            == 1
        )
        props = json.loads(
            conn.execute("select properties from objects where id = 1001").fetchone()[0]
        )
        assert props["loyalty_tier"] == "gold"
