"""After any run, raw equals the source, row for row and value for value (shop and catalog)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures.loading import Warehouse
from tests.fixtures.raw_compare import CATALOG_TABLES, SHOP_TABLES, assert_raw_equals_source
from tests.fixtures.services import mysql_connect, pg_connect
from tests.fixtures.worlds import SourceWorld
from world.change import ChangeReport
from world.urls import DbUrl

# Every proof runs twice: changes found by the cursor and key scans, and read from the change
# streams (the binlog, logical replication) of private servers that have them on.
pytestmark = [
    pytest.mark.mysql,
    pytest.mark.postgres,
    pytest.mark.parametrize("capture", ["cursor", "stream"]),
]


def _equal(world: SourceWorld, wh: Warehouse) -> None:
    assert_raw_equals_source(world.shop_url, wh.path, "raw_shop", SHOP_TABLES)
    assert_raw_equals_source(world.catalog_url, wh.path, "raw_catalog", CATALOG_TABLES)


def _change(world: SourceWorld, number: int, new_column: bool = False) -> ChangeReport:
    return world.change(number, new_column=new_column)  # type: ignore[no-any-return]


def _by_table(audit: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {f"{r['source_name']}.{r['table_name']}": r for r in audit}


@pytest.fixture
def loaded(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> tuple[SourceWorld, Warehouse]:
    world = make_world(orders=3_000, seed=31)
    wh = make_warehouse(world)
    wh.load()
    return world, wh


def test_initial_load_equals_source_with_exact_types(loaded: tuple[SourceWorld, Warehouse]) -> None:
    world, wh = loaded
    _equal(world, wh)
    audit = _by_table(wh.audit())
    assert {r["load_mode"] for r in audit.values()} == {"full"}
    assert all(r["status"] == "ok" for r in audit.values())
    types = dict(
        wh.sql(
            """select table_name || '.' || column_name, data_type from information_schema.columns
           where table_schema in ('raw_shop', 'raw_catalog')"""
        )
    )
    assert types["orders.subtotal"] == "DECIMAL(12,2)"
    assert types["orders.status"] == "VARCHAR"  # ENUM as text
    assert types["customers.marketing_opt_in"] == "BOOLEAN"  # TINYINT(1)
    assert types["orders.placed_at"] == "TIMESTAMP WITH TIME ZONE"  # naive DATETIME, as UTC
    assert types["products.updated_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["products.list_price"] == "DECIMAL(12,2)"
    assert types["products.attributes"] == "JSON"  # JSONB as JSON
    assert types["order_items.quantity"] == "INTEGER"


def test_zero_dates_become_null_and_are_counted(loaded: tuple[SourceWorld, Warehouse]) -> None:
    world, wh = loaded
    zeros = world.manifest.report["zero_processed_at"]["rows"]
    assert zeros > 0
    assert _by_table(wh.audit())["shop.payments"]["zero_dates_nulled"] == zeros
    nulls = wh.sql(
        "select count(*) from raw_shop.payments where processed_at is null and status != 'authorized'"
    )
    assert nulls == [(zeros,)]
    summary_line = next(
        line
        for line in wh.run(
            "--source", "shop", "--table", "payments", "--full-refresh"
        ).stdout.splitlines()
        if line.startswith("shop") and "payments" in line
    )
    assert f"{zeros:,}" in summary_line


def test_day_of_change_is_loaded_incrementally_and_exactly(
    loaded: tuple[SourceWorld, Warehouse],
) -> None:
    world, wh = loaded
    report = _change(world, 1)
    wh.load()
    _equal(world, wh)
    audit = _by_table(wh.audit())
    assert {r["load_mode"] for r in audit.values()} == {"incremental"}
    assert audit["shop.orders"]["rows_deleted"] == len(report.hard_deleted_order_ids)
    assert audit["shop.order_items"]["rows_deleted"] > 0
    assert audit["shop.orders"]["rows_loaded"] > 0
    # Incremental means the changed rows, not the table.
    assert audit["shop.orders"]["rows_extracted"] < 3_000 / 4
    # Soft deletes arrive with deleted_at and blanked PII; hard deletes are gone with their items.
    forgotten = ",".join(map(str, report.soft_deleted_customer_ids))
    assert wh.sql(
        f"select count(*) from raw_shop.customers where customer_id in ({forgotten}) "
        "and deleted_at is not null and email is null"
    ) == [(len(report.soft_deleted_customer_ids),)]
    purged = ",".join(map(str, report.hard_deleted_order_ids))
    for table in ("orders", "order_items", "payments"):
        assert wh.sql(f"select count(*) from raw_shop.{table} where order_id in ({purged})") == [
            (0,)
        ]
    # The keys each load deleted are kept beside the table (staging deletes by them), in the
    # same load; the first load, which replaced the table, left one row saying so.
    assert wh.sql(
        "select order_id from raw_shop._deleted_orders where not _reloaded order by 1"
    ) == [(o,) for o in sorted(report.hard_deleted_order_ids)]
    for table in [*SHOP_TABLES, *CATALOG_TABLES]:
        source = "shop" if table in SHOP_TABLES else "catalog"
        deleted = audit[f"{source}.{table}"]["rows_deleted"]
        assert wh.sql(
            f"select count(*) filter (where not _reloaded), count(*) filter (where _reloaded), "
            f"count(distinct _dlt_load_id) from raw_{source}._deleted_{table}"
        ) == [(deleted, 1, 2 if deleted else 1)], table
    # A late status change weeks after the order is there.
    late = report.late_updated_order_ids[0]
    src = DbUrl.parse(world.shop_url)
    conn = mysql_connect(src, src.database)
    with conn.cursor() as cur:
        cur.execute("select status from orders where order_id = %s", (late,))
        status = cur.fetchone()[0]
    conn.close()
    assert wh.sql(f"select status from raw_shop.orders where order_id = {late}") == [(status,)]


def test_second_run_without_change_loads_zero_rows(loaded: tuple[SourceWorld, Warehouse]) -> None:
    world, wh = loaded
    _change(world, 1)
    wh.load()
    wh.load()
    audit = wh.audit()
    assert len(audit) == 7
    assert all(r["rows_loaded"] == 0 and r["rows_deleted"] == 0 for r in audit), audit
    _equal(world, wh)


def test_cursor_ties_are_neither_lost_nor_duplicated(loaded: tuple[SourceWorld, Warehouse]) -> None:
    world, wh = loaded
    src = DbUrl.parse(world.shop_url)
    conn = mysql_connect(src, src.database)
    with conn.cursor() as cur:
        cur.execute("set session time_zone = '+00:00'")
        # New rows stamped with exactly the cursor raw last saw, and rows sharing one new stamp.
        cur.execute("select max(updated_at) from orders")
        last = cur.fetchone()[0]
        cur.execute(
            "update orders set utm_source = 'tie', updated_at = %s where order_id in (11, 12, 13)",
            (last,),
        )
        cur.execute("update orders set utm_source = 'same-stamp' where order_id between 20 and 40")
    conn.close()
    wh.load("--source", "shop")
    _equal(world, wh)
    orders = _by_table(wh.audit())["shop.orders"]
    assert orders["rows_loaded"] == 3 + 21
    assert wh.sql("select count(*), count(distinct order_id) from raw_shop.orders") == [
        (3_000, 3_000)
    ]
    wh.load("--source", "shop")
    assert _by_table(wh.audit())["shop.orders"]["rows_loaded"] == 0


def test_new_column_lands_and_is_backfilled(loaded: tuple[SourceWorld, Warehouse]) -> None:
    world, wh = loaded
    report = _change(world, 1, new_column=True)
    assert report.new_column == "weight_kg"
    wh.load("--source", "catalog")
    products = _by_table(wh.audit())["catalog.products"]
    assert products["load_mode"] == "backfill"
    assert "weight_kg" in str(products["note"])
    assert wh.sql("select count(weight_kg) = count(*) from raw_catalog.products") == [(True,)]
    assert_raw_equals_source(world.catalog_url, wh.path, "raw_catalog", CATALOG_TABLES)
    wh.load("--source", "catalog")
    assert _by_table(wh.audit())["catalog.products"]["load_mode"] == "incremental"


def test_lossy_type_change_stops_that_table_with_a_clear_error(
    loaded: tuple[SourceWorld, Warehouse],
) -> None:
    world, wh = loaded
    before = wh.sql("select sum(list_price), count(*) from raw_catalog.products")
    conn = pg_connect(DbUrl.parse(world.catalog_url))
    with conn.cursor() as cur:
        cur.execute("alter table catalog.products alter column list_price type text")
        cur.execute(
            "update catalog.inventory_levels set quantity_on_hand = 7, updated_at = now() where product_id = 1"
        )
    conn.close()
    result = wh.run("--source", "catalog")
    assert result.returncode == 1
    line = next(line for line in result.stderr.splitlines() if line.startswith("loaders: "))
    assert "catalog.products" in line and "list_price" in line and "--full-refresh" in line
    assert wh.sql("select sum(list_price), count(*) from raw_catalog.products") == before
    audit = _by_table(wh.audit())
    assert audit["catalog.products"]["status"] == "failed"
    assert audit["catalog.inventory_levels"]["status"] == "ok"  # the other tables still load
    assert wh.sql(
        "select quantity_on_hand from raw_catalog.inventory_levels where product_id = 1 limit 1"
    ) == [(7,)]


def test_full_refresh_reloads_from_scratch(loaded: tuple[SourceWorld, Warehouse]) -> None:
    world, wh = loaded
    _change(world, 1)
    wh.load("--source", "shop", "--table", "orders", "--full-refresh")
    audit = _by_table(wh.audit())
    assert list(audit) == ["shop.orders"]
    assert audit["shop.orders"]["load_mode"] == "full"
    assert_raw_equals_source(world.shop_url, wh.path, "raw_shop", {"orders": ("order_id",)})
    wh.load()
    _equal(world, wh)


def test_a_read_only_database_user_is_enough(
    make_world: Callable[..., SourceWorld],
    make_warehouse: Callable[[SourceWorld], Warehouse],
    capture: str,
) -> None:
    """A user that reads: SELECT, and for the streams the replication grants that the DBA's setup
    in docs/loaders.md names (the publication made by the tables' owner)."""
    world = make_world(orders=800, seed=33)
    shop, catalog = DbUrl.parse(world.shop_url), DbUrl.parse(world.catalog_url)
    mysql_admin = shop
    postgres_admin = catalog.with_database("postgres")
    user = f"loader_{shop.database[-8:]}"
    conn = mysql_connect(mysql_admin)
    with conn.cursor() as cur:
        cur.execute(f"create user '{user}'@'%' identified by 'ro-secret'")
        cur.execute(f"grant select on `{shop.database}`.* to '{user}'@'%'")
        if capture == "stream":
            cur.execute(f"grant replication slave, binlog monitor on *.* to '{user}'@'%'")
    conn.close()
    conn = pg_connect(postgres_admin, catalog.database)
    with conn.cursor() as cur:
        cur.execute(f"create role {user} login password 'ro-secret'")
        cur.execute(f"grant usage on schema catalog to {user}")
        cur.execute(f"grant select on all tables in schema catalog to {user}")
        if capture == "stream":
            cur.execute(f"alter role {user} replication")
            cur.execute(
                f"create publication shopsphere_catalog_{catalog.database} for table "
                "catalog.categories, catalog.products, catalog.inventory_levels"
            )
    conn.close()
    try:
        wh = make_warehouse(world)
        wh.env["SOURCES__SHOP__CREDENTIALS"] = (
            f"mysql+pymysql://{user}:ro-secret@{shop.host}:{shop.port}/{shop.database}"  # pragma: allowlist secret
        )
        wh.env["SOURCES__CATALOG__CREDENTIALS"] = (
            f"postgresql://{user}:ro-secret@{catalog.host}:{catalog.port}/{catalog.database}"  # pragma: allowlist secret
        )
        wh.load()
        _equal(world, wh)
    finally:
        conn = mysql_connect(mysql_admin)
        with conn.cursor() as cur:
            cur.execute(f"drop user if exists '{user}'@'%'")
        conn.close()
        # The role's grants live only in the catalog database: dropping it frees the
        # role without DROP OWNED, which a non-superuser admin (CI's) may not run.
        conn = pg_connect(postgres_admin)
        with conn.cursor() as cur:
            cur.execute(f'drop database if exists "{catalog.database}" with (force)')
            cur.execute(f"drop role if exists {user}")
        conn.close()


def test_children_follow_their_parent_deletes_and_removals(
    loaded: tuple[SourceWorld, Warehouse],
) -> None:
    world, wh = loaded
    src = DbUrl.parse(world.shop_url)
    conn = mysql_connect(src, src.database)
    with conn.cursor() as cur:
        # An item removed from a live order (the order's totals change with it) ...
        cur.execute("select order_item_id, order_id from order_items where order_id = 100 limit 1")
        item, order = cur.fetchone()
        cur.execute("delete from order_items where order_item_id = %s", (item,))
        cur.execute("update orders set subtotal = subtotal - 0.01 where order_id = %s", (order,))
        # ... and an order purged while only the orders table is loaded.
        cur.execute("delete from payments where order_id = 200")
        cur.execute("delete from order_items where order_id = 200")
        cur.execute("delete from orders where order_id = 200")
    conn.close()
    wh.load("--source", "shop", "--table", "orders")
    assert wh.sql("select count(*) from raw_shop.order_items where order_id = 200") != [(0,)]
    wh.load("--source", "shop")
    assert wh.sql(f"select count(*) from raw_shop.order_items where order_item_id = {item}") == [
        (0,)
    ]
    for table in ("order_items", "payments"):
        assert wh.sql(f"select count(*) from raw_shop.{table} where order_id = 200") == [(0,)]
    assert_raw_equals_source(world.shop_url, wh.path, "raw_shop", SHOP_TABLES)


def test_zero_in_date_values_become_null_too(loaded: tuple[SourceWorld, Warehouse]) -> None:
    world, wh = loaded
    src = DbUrl.parse(world.shop_url)
    conn = mysql_connect(src, src.database)
    with conn.cursor() as cur:
        cur.execute("set session sql_mode = 'NO_ENGINE_SUBSTITUTION'")  # the shop's permissive mode
        cur.execute(
            "update payments set processed_at = '2024-00-15 10:00:00' where payment_id in (5, 6)"
        )
        cur.execute("update customers set deleted_at = '0000-00-00 00:00:00' where customer_id = 9")
    conn.close()
    wh.load("--source", "shop")
    audit = _by_table(wh.audit())
    assert audit["shop.payments"]["zero_dates_nulled"] == 2
    assert audit["shop.customers"]["zero_dates_nulled"] == 1
    assert wh.sql(
        "select count(*) from raw_shop.payments where payment_id in (5, 6) and processed_at is null"
    ) == [(2,)]
    assert_raw_equals_source(world.shop_url, wh.path, "raw_shop", SHOP_TABLES)


def test_a_new_warehouse_is_loaded_from_scratch_not_from_stale_state(
    loaded: tuple[SourceWorld, Warehouse],
) -> None:
    world, wh = loaded
    from pathlib import Path

    Path(wh.path).unlink()  # the warehouse is replaced (restored, recreated) under the loader
    result = wh.load()
    assert "loading from scratch" in result.stderr
    assert {r["load_mode"] for r in wh.audit()} == {"full"}
    _equal(world, wh)
