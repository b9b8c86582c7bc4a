"""What only a change stream has to get right: a first copy consistent with the stream, a lost
position said and resynced, TRUNCATE, an idle slot that keeps moving, and a server or a user
that cannot stream named in one line. The proofs every capture mode shares are in
test_sql_loaders, test_crash_safety and the fault tests (parametrized by capture)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.loading import Warehouse
from tests.fixtures.raw_compare import CATALOG_TABLES, SHOP_TABLES, assert_raw_equals_source
from tests.fixtures.services import mysql_connect, pg_connect
from tests.fixtures.worlds import SourceWorld
from world.urls import DbUrl

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

DURING_COPY = str(Path(__file__).with_name("change_during_copy.py"))
STREAM = pytest.mark.parametrize("capture", ["stream"])


def _equal(world: SourceWorld, wh: Warehouse) -> None:
    assert_raw_equals_source(world.shop_url, wh.path, "raw_shop", SHOP_TABLES)
    assert_raw_equals_source(world.catalog_url, wh.path, "raw_catalog", CATALOG_TABLES)


def _shop(world: SourceWorld, *statements: str) -> list[tuple]:
    url = DbUrl.parse(world.shop_url)
    conn = mysql_connect(url, url.database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return list(cur.fetchall() or [])
    finally:
        conn.close()


def _catalog(world: SourceWorld, *statements: str) -> list[tuple]:
    url = DbUrl.parse(world.catalog_url)
    conn = pg_connect(url, url.database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


def _purge_binlogs(world: SourceWorld) -> None:
    """Purge every binlog but a new one. MariaDB keeps a file until its binlog checkpoint (InnoDB
    durability of the transactions in it) has passed, so the purge is repeated until it took."""
    for _ in range(50):
        _shop(world, "flush binary logs")
        (newest,) = _shop(world, "show master status")[0][:1]
        _shop(world, f"purge binary logs to '{newest}'")
        if [r[0] for r in _shop(world, "show binary logs")] == [newest]:
            return
        time.sleep(0.2)
    raise AssertionError("MariaDB kept its older binlogs")


def _by_table(audit: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {f"{r['source_name']}.{r['table_name']}": r for r in audit}


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
    items = _by_table(wh.audit())["shop.order_items"]
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
    _purge_binlogs(world)
    _catalog(
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
    audit = _by_table(wh.audit())
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
    _equal(world, wh)
    world.change(2)
    wh.load()
    assert {r["load_mode"] for r in wh.audit()} == {"incremental"}
    _equal(world, wh)


@STREAM
def test_a_truncate_empties_the_raw_table(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    world = make_world(orders=800, seed=73)
    wh = make_warehouse(world)
    wh.load()
    held = wh.sql("select count(*) from raw_shop.payments")[0][0]
    _shop(
        world,
        "truncate table payments",
        "insert into payments (order_id, method, status, amount, currency) "
        "values (1, 'card', 'captured', 5.00, 'USD')",
    )
    _catalog(world, "truncate catalog.inventory_levels")
    wh.load()
    audit = _by_table(wh.audit())
    # TRUNCATE resets AUTO_INCREMENT: the new payment takes key 1 again, written, not deleted.
    assert audit["shop.payments"]["rows_deleted"] == held - 1
    assert wh.sql("select count(*) from raw_shop.payments") == [(1,)]
    assert wh.sql("select count(*) from raw_catalog.inventory_levels") == [(0,)]
    _equal(world, wh)


@STREAM
def test_an_idle_postgres_source_keeps_its_slot_moving(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    world = make_world(orders=300, seed=74)
    wh = make_warehouse(world)
    wh.load("--source", "catalog")
    slot = (
        "select confirmed_flush_lsn from pg_replication_slots where database = current_database()"
    )
    (before,) = _catalog(world, slot)[0]
    # Other databases of the server write WAL; the catalog changes nothing.
    admin = DbUrl.parse(world.catalog_url)
    conn = pg_connect(admin, "postgres")
    with conn.cursor() as cur:
        cur.execute("create table if not exists wal_noise (x text)")
        cur.execute("insert into wal_noise select repeat('x', 1000) from generate_series(1, 2000)")
        cur.execute("select pg_current_wal_lsn()")
        (elsewhere,) = cur.fetchone()
    wh.load("--source", "catalog")
    assert all(r["rows_loaded"] == 0 for r in wh.audit())
    (after,) = _catalog(world, slot)[0]
    as_int = lambda lsn: int(lsn.split("/")[0], 16) << 32 | int(lsn.split("/")[1], 16)  # noqa: E731
    assert as_int(after) > as_int(before)
    assert as_int(after) >= as_int(elsewhere)  # the slot holds none of the other database's WAL
    # The WAL kept for the slot (from its restart point) follows one run behind: a confirm
    # applies the restart point of the first snapshot of running transactions decoded after
    # the previous confirm, which may precede the noise (the bgwriter writes one every 15 s of
    # activity). A checkpoint writes one after this run; the next idle run applies it.
    conn = pg_connect(admin, "postgres")
    with conn.cursor() as cur:
        cur.execute("checkpoint")
    conn.close()
    wh.load("--source", "catalog")
    held = wh.sql(
        "select held_bytes from loader_audit.stream_positions where source_name = 'catalog' "
        "order by checked_at desc limit 1"
    )[0][0]
    assert held is not None and held < 1_000_000


def test_a_server_without_a_stream_is_named_in_one_line(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    """The machine's own servers: MariaDB without a binlog, PostgreSQL at wal_level=replica."""
    world = make_world(orders=200, seed=75)
    wh = make_warehouse(world)
    result = wh.run(
        extra_env={"SOURCES__SHOP__CAPTURE": "stream", "SOURCES__CATALOG__CAPTURE": "stream"}
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("loaders: ")]
    assert any("shop: capture = stream, but log_bin is OFF" in e for e in errors), errors
    assert any("catalog: capture = stream, but wal_level is" in e for e in errors), errors
    assert not Path(wh.path).exists() or wh.sql(
        "select count(*) from information_schema.tables where table_schema = 'raw_shop'"
    ) == [(0,)]
    # Unset, the stream is used where the server allows it: here, the cursor, said once.
    result = wh.run(extra_env={"SOURCES__SHOP__CAPTURE": "", "SOURCES__CATALOG__CAPTURE": ""})
    assert result.returncode == 0, result.output[-3000:]
    assert "shop: changes found with the updated_at cursor and key scans (log_bin is OFF" in (
        result.stderr
    )
    assert {r["capture"] for r in wh.audit()} == {"cursor"}
    bad = wh.run(extra_env={"SOURCES__SHOP__CAPTURE": "binlog"})
    assert bad.returncode == 1
    assert "sources.shop.capture (SOURCES__SHOP__CAPTURE) is 'binlog'; use stream or cursor" in (
        bad.stderr
    )


@STREAM
def test_a_user_without_the_replication_grants_is_named_in_one_line(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    world = make_world(orders=200, seed=76)
    shop, catalog = DbUrl.parse(world.shop_url), DbUrl.parse(world.catalog_url)
    user = f"noreplication_{shop.database[-8:]}"
    _shop(
        world,
        f"create user '{user}'@'%' identified by 'ro-secret'",
        f"grant select on `{shop.database}`.* to '{user}'@'%'",
        f"grant binlog monitor on *.* to '{user}'@'%'",
    )
    _catalog(
        world,
        f"create role {user} login password 'ro-secret'",
        f"grant usage on schema catalog to {user}",
        f"grant select on all tables in schema catalog to {user}",
    )
    wh = make_warehouse(world)
    wh.env["SOURCES__SHOP__CREDENTIALS"] = (
        f"mysql+pymysql://{user}:ro-secret@{shop.host}:{shop.port}/{shop.database}"  # pragma: allowlist secret
    )
    wh.env["SOURCES__CATALOG__CREDENTIALS"] = (
        f"postgresql://{user}:ro-secret@{catalog.host}:{catalog.port}/{catalog.database}"  # pragma: allowlist secret
    )
    result = wh.run()
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("loaders: ")]
    assert any("shop:" in e and "REPLICATION SLAVE" in e for e in errors), errors
    assert any("catalog:" in e and "REPLICATION attribute" in e for e in errors), errors
    _shop(world, f"drop user '{user}'@'%'")


@STREAM
def test_the_reconciliation_repairs_what_the_stream_never_carried(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    world = make_world(orders=1_500, seed=77)
    wh = make_warehouse(world)
    wh.load()
    # Changes the streams never see: the binlog off for a session, a table out of the
    # publication while it changes.
    _shop(
        world,
        "set session sql_log_bin = 0",
        "update orders set utm_source = 'unlogged' where order_id in (7, 1200)",
        "delete from order_items where order_item_id in (10, 3000)",
        "insert into payments (order_id, method, status, amount, currency) "
        "values (2, 'card', 'captured', 6.00, 'USD')",
    )
    publication = _catalog(world, "select pubname from pg_publication")[0][0]
    _catalog(
        world,
        f"alter publication {publication} drop table catalog.inventory_levels",
        "update catalog.inventory_levels set quantity_on_hand = 12345, updated_at = now() "
        "where product_id = 3",
        f"alter publication {publication} add table catalog.inventory_levels",
    )
    wh.load()
    assert all(r["rows_loaded"] == 0 for r in wh.audit())
    with pytest.raises(AssertionError):
        _equal(world, wh)
    repaired = wh.load("--reconcile")
    rows = wh.audit()
    audit = _by_table(rows)
    assert {r["load_mode"] for r in rows} == {"reconcile"}
    assert audit["shop.order_items"]["rows_deleted"] == 2
    assert audit["shop.customers"]["rows_loaded"] == 0  # untouched tables cost one aggregate
    assert "ranges" in str(audit["shop.orders"]["note"])
    assert "==> hubspot" not in repaired.stderr
    _equal(world, wh)
    wh.load()  # the stream goes on from its position: nothing left to do
    assert all(r["rows_loaded"] == 0 and r["rows_deleted"] == 0 for r in wh.audit())
    _equal(world, wh)


@STREAM
def test_the_monitoring_warns_before_a_stream_position_is_lost(
    make_world: Callable[..., SourceWorld],
    make_warehouse: Callable[[SourceWorld], Warehouse],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from loaders.shared.report import audit_client
    from orchestration.monitoring import stream_warnings
    from orchestration.settings import settings

    def warned() -> dict[str, str]:
        cfg = settings()
        with audit_client(cfg.destination) as client:
            return stream_warnings(cfg, client)

    world = make_world(orders=300, seed=78)
    wh = make_warehouse(world)
    wh.load()
    for name, value in wh.env.items():
        if name.startswith(("SOURCES__", "SHOPSPHERE_")):
            monkeypatch.setenv(name, value)
    assert warned() == {}  # just loaded: nothing at risk
    # The server moves on to newer binlogs, and WAL piles up behind the catalog's slot.
    _shop(world, "flush binary logs", "flush binary logs")
    _catalog(
        world,
        "create table catalog.noise (x text)",
        "insert into catalog.noise select md5(g::text) || repeat('y', 500) "
        "from generate_series(1, 10000) g",
    )
    monkeypatch.setenv("SHOPSPHERE_STREAM_MAX_HELD_MB", "0.5")
    warnings = warned()
    assert set(warnings) == {"shop:margin", "catalog:held"}, warnings
    assert "oldest binlog the server keeps" in warnings["shop:margin"]
    assert "MB of WAL" in warnings["catalog:held"]
    # A load moves both on. (A slot's restart point moves at the server's next snapshot of
    # running transactions, which a checkpoint writes at once; the bgwriter does every 15 s.)
    _catalog(world, "checkpoint")
    wh.load()
    assert warned() == {}


@STREAM
def test_an_erased_person_stays_erased_when_the_stream_carries_their_row(
    make_world: Callable[..., SourceWorld],
    make_warehouse: Callable[[SourceWorld], Warehouse],
    tmp_path: Path,
) -> None:
    world = make_world(orders=300, seed=79)
    wh = make_warehouse(world)
    wh.load("--source", "shop")
    customer, email = _shop(
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
    _shop(world, f"update customers set city = 'Elsewhere' where customer_id = {customer}")
    loaded = wh.load("--source", "shop")
    assert "PII is blanked" in loaded.stderr
    assert _by_table(wh.audit())["shop.customers"]["rows_loaded"] >= 1
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
    _catalog(
        world,
        "update catalog.products set attributes = jsonb_build_object('notes', (select "
        "string_agg(md5(random()::text), '') from generate_series(1, 400))) where product_id = 3",
    )
    wh.load("--source", "catalog")
    _catalog(world, "update catalog.products set list_price = list_price + 1 where product_id = 3")
    wh.load("--source", "catalog")
    assert _by_table(wh.audit())["catalog.products"]["rows_loaded"] == 1
    assert_raw_equals_source(world.catalog_url, wh.path, "raw_catalog", CATALOG_TABLES)
