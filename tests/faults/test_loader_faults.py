"""A production day's faults, injected on purpose: each loses nothing and says what happened.

One test per fault of the hardening issue; each fails without its fix.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.dbt import DbtProject, dbt_env
from tests.fixtures.loading import ROOT, Warehouse
from tests.fixtures.raw_compare import CATALOG_TABLES, SHOP_TABLES, assert_raw_equals_source
from tests.fixtures.services import mysql_connect, pg_connect
from tests.fixtures.worlds import SourceWorld
from world.urls import DbUrl

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

CRASH_RUN = str(ROOT / "tests" / "loaders" / "crash_run.py")
# The faults a SQL table's landing meets, proven with changes read by the cursor and the stream.
BOTH_CAPTURES = pytest.mark.parametrize("capture", ["cursor", "stream"])


@pytest.fixture
def world(make_world: Callable[..., SourceWorld]) -> SourceWorld:
    return make_world(orders=600, seed=61)


def _shop(world: SourceWorld, *statements: str) -> None:
    _execute(mysql_connect, world.shop_url, statements)


def _catalog(world: SourceWorld, *statements: str) -> None:
    _execute(pg_connect, world.catalog_url, statements)


def _execute(connect: Callable[..., Any], url: str, statements: tuple[str, ...]) -> None:
    parsed = DbUrl.parse(url)
    conn = connect(parsed, parsed.database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def _completed_rows(wh: Warehouse, table: str) -> int:
    """What staging reads: rows of completed loads only."""
    schema = table.split(".")[0]
    return int(
        wh.sql(
            f"select count(*) from {table} where _dlt_load_id in "
            f"(select load_id from {schema}._dlt_loads where status = 0)"
        )[0][0]
    )


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("loaders: ")]


# -- one writer per source ---------------------------------------------------------------------


def test_a_second_load_of_a_source_is_refused_and_touches_nothing(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    wh = make_warehouse(world)
    wh.load("--source", "shop")
    holder = subprocess.Popen(  # a first load, still running
        [
            sys.executable,
            "-c",
            "import sys, time; from loaders.shared.locks import source_lock\n"
            "with source_lock(sys.argv[1], 'shop', 'duckdb'):\n"
            "    print('locked', flush=True); time.sleep(60)",
            wh.env["SHOPSPHERE_PIPELINES_DIR"],
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        before = wh.sql("select count(*) from raw_shop._dlt_loads")
        result = wh.run("--source", "shop")
        assert result.returncode == 75  # transient: retry later
        (line,) = _errors(result.output)
        assert line.startswith(f"loaders: shop: another load is running (pid {holder.pid}, since ")
        assert wh.sql("select count(*) from raw_shop._dlt_loads") == before
    finally:
        holder.kill()  # SIGKILL: the lock it leaves behind must be taken over
        holder.wait()
    result = wh.load("--source", "shop")
    assert all(r["rows_loaded"] == 0 for r in wh.audit()), wh.audit()


def test_a_locked_warehouse_is_never_read_as_a_reset(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    wh = make_warehouse(world)
    wh.load("--source", "shop")
    holder = subprocess.Popen(  # another process writing the DuckDB file (DuckDB's single writer)
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)",
            wh.path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        result = wh.run("--source", "shop")
        assert result.returncode == 75
        assert any(
            "the warehouse is in use by another process" in e for e in _errors(result.output)
        )
        assert "loading from scratch" not in result.output
    finally:
        holder.kill()
        holder.wait()
    result = wh.load("--source", "shop")  # state survived: nothing to load, nothing reloaded
    assert "loading from scratch" not in result.output
    assert all(r["rows_loaded"] == 0 and r["load_mode"] == "incremental" for r in wh.audit())


# -- everything declared exists ----------------------------------------------------------------


def test_an_empty_source_table_gets_an_empty_raw_table(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    _shop(world, "delete from payments")
    _catalog(world, "delete from catalog.inventory_levels")
    wh = make_warehouse(world)
    wh.load()
    assert wh.sql("select count(*) from raw_shop.payments") == [(0,)]
    assert wh.sql("select count(*) from raw_catalog.inventory_levels") == [(0,)]
    columns = {r[0] for r in wh.sql("describe raw_shop.payments")}
    assert {"payment_id", "order_id", "amount", "processed_at", "_dlt_load_id"} <= columns
    wh.load()  # and the next run finds it, incrementally
    assert {r["table_name"]: r["load_mode"] for r in wh.audit()}["payments"] == "incremental"


# -- full refresh is atomic for readers --------------------------------------------------------


def test_a_full_refresh_killed_mid_load_leaves_the_previous_data_readable(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    wh = make_warehouse(world)
    wh.load("--source", "shop")
    orders = _completed_rows(wh, "raw_shop.orders")
    items = _completed_rows(wh, "raw_shop.order_items")
    # Killed as the first table's rows land in dlt's staging dataset, before any table is
    # swapped in. (Later, dlt swaps each table in as soon as its own rows are in: a kill
    # between two tables' swaps leaves the swapped table holding only the unfinished load's
    # rows until the next run finishes it. Staging and the marts keep the previous rows, as
    # they read completed loads only. The kill at the second job hit that window at random.)
    result = wh.run(
        "--source",
        "shop",
        "--full-refresh",
        wrapper=CRASH_RUN,
        extra_env={"SHOPSPHERE_TEST_KILL_AT": "load:1"},
    )
    assert result.returncode == -9, result.output[-2000:]
    assert _completed_rows(wh, "raw_shop.orders") == orders
    assert _completed_rows(wh, "raw_shop.order_items") == items
    wh.load("--source", "shop")
    assert_raw_equals_source(world.shop_url, wh.path, "raw_shop", SHOP_TABLES)


# -- children deleted from a live parent -------------------------------------------------------


@BOTH_CAPTURES
def test_a_payment_deleted_from_an_untouched_live_order_leaves_raw(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    wh = make_warehouse(world)
    wh.load("--source", "shop")
    # A payment and an item removed by hand: their order stays live and its updated_at unchanged.
    _shop(
        world,
        "delete from payments where payment_id = (select min(payment_id) from payments)",
        "delete from order_items where order_item_id = (select max(order_item_id) from order_items)",
    )
    wh.load("--source", "shop")
    assert_raw_equals_source(world.shop_url, wh.path, "raw_shop", SHOP_TABLES)
    deleted = {r["table_name"]: r["rows_deleted"] for r in wh.audit()}
    assert deleted["payments"] == 1 and deleted["order_items"] == 1


# -- types -------------------------------------------------------------------------------------


@BOTH_CAPTURES
def test_wide_decimals_land_exactly_or_fail_their_table_alone(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    _shop(
        world,
        "alter table payments add column fee decimal(65,30) null",
        "update payments set fee = 0.123456789012345678901234567891",
        "alter table orders add column ledger decimal(65,0) null",
        "update orders set ledger = 12345678901234567890123456789012345678901234567890 "
        "where order_id = (select * from (select min(order_id) from orders) o)",
    )
    _catalog(
        world,
        "alter table catalog.products add column weight_kg numeric null",
        "update catalog.products set weight_kg = 1.5",
        "alter table catalog.categories add column share numeric null",
        "update catalog.categories set share = 1.0 / 3",
    )
    wh = make_warehouse(world)
    result = wh.run()
    assert result.returncode == 1
    errors = _errors(result.output)
    assert len(errors) == 2, errors
    orders = next(e for e in errors if "shop.orders" in e)
    assert (
        "column ledger" in orders and "12345678901234567890123456789012345678901234567890" in orders
    )
    categories = next(e for e in errors if "catalog.categories" in e)
    assert "column share" in categories and "0.3333" in categories
    assert "Traceback" not in result.output and "panicked" not in result.output
    # The other tables of both sources landed, exactly.
    assert wh.sql("select distinct fee from raw_shop.payments") == [
        (Decimal("0.123456789012345678901234567891"),)
    ]
    assert wh.sql("select distinct weight_kg from raw_catalog.products") == [(Decimal("1.5"),)]
    tables = {
        r[0]
        for r in wh.sql("select table_schema || '.' || table_name from information_schema.tables")
    }
    assert "raw_shop.orders" not in tables and "raw_catalog.categories" not in tables
    assert {"raw_shop.customers", "raw_shop.order_items", "raw_catalog.inventory_levels"} <= tables


@BOTH_CAPTURES
def test_type_drift_then_its_full_refresh(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse], tmp_path: Path
) -> None:
    wh = make_warehouse(world)
    wh.load("--source", "shop")
    _shop(
        world,
        "alter table order_items modify quantity varchar(16) not null",
        "update order_items set quantity = 'two' where order_item_id = (select * from (select min(order_item_id) from order_items) i)",
    )
    result = wh.run("--source", "shop")
    assert result.returncode == 1
    (line,) = _errors(result.output)
    assert "shop.order_items" in line and "quantity" in line and "--full-refresh" in line
    before = _completed_rows(wh, "raw_shop.order_items")
    result = wh.load("--source", "shop", "--table", "order_items", "--full-refresh")
    assert wh.sql(
        "select data_type from information_schema.columns where table_schema = 'raw_shop' "
        "and table_name = 'order_items' and column_name = 'quantity'"
    ) == [("VARCHAR",)]
    assert _completed_rows(wh, "raw_shop.order_items") == before
    assert_raw_equals_source(
        world.shop_url, wh.path, "raw_shop", {"order_items": ("order_item_id",)}
    )
    # Staging still builds on the converted column: the value that does not cast reads as
    # NULL and names its column for the quarantine (rule uncastable_shop_value).
    dbt = DbtProject(wh.path, tmp_path / "target", dbt_env(wh.path, tmp_path / "target"))
    dbt.run("run", "--target", "ci", "--select", "stg_shop__order_items")
    rows = dbt.sql(
        "select quantity, _uncastable_columns, count(*) from staging.stg_shop__order_items "
        "group by all order by 2 nulls first"
    )
    assert rows[-1][:2] == (None, "quantity") and rows[-1][2] == 1, rows
    assert all(r[1] is None and r[0] is not None for r in rows[:-1])


# -- the audit tells the truth -----------------------------------------------------------------


@BOTH_CAPTURES
def test_the_audit_after_sigterm_and_after_the_recovery(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    wh = make_warehouse(world)
    result = wh.run(
        "--source",
        "shop",
        wrapper=CRASH_RUN,
        extra_env={"SHOPSPHERE_TEST_KILL_AT": "load:1", "SHOPSPHERE_TEST_SIGNAL": "TERM"},
    )
    assert result.returncode == 1, result.output[-2000:]
    audit = {r["table_name"]: r for r in wh.audit()}
    assert "interrupted" in {r["status"] for r in audit.values()}, audit
    for table, row in audit.items():  # the audit says exactly what raw committed
        in_raw = (
            wh.sql(
                f"select count(*) from raw_shop.{table} where _dlt_load_id in "
                "(select load_id from raw_shop._dlt_loads where status = 0)"
            )[0][0]
            if row["status"] == "ok"
            else 0
        )
        assert row["status"] in ("ok", "interrupted"), row
        assert row["rows_loaded"] == in_raw, row
    assert "INTERRUPTED" in result.stdout
    assert not any(line.count("shop.") > 1 for line in result.stdout.splitlines())
    result = wh.load("--source", "shop")
    assert "finishing an interrupted load" in result.stderr
    assert any(r["load_mode"] == "recovery" for r in wh.audit())
    # Over both runs, the audit counts every committed row once: the interrupted run what it
    # committed, the recovery what it finished, the rest what the new run read.
    loaded = dict(
        wh.sql("select table_name, sum(rows_loaded) from loader_audit.load_runs group by 1")
    )
    for table in SHOP_TABLES:
        assert loaded[table] == wh.sql(f"select count(*) from raw_shop.{table}")[0][0], table
    assert_raw_equals_source(world.shop_url, wh.path, "raw_shop", SHOP_TABLES)


# -- small things ------------------------------------------------------------------------------


def test_a_table_that_matches_nothing_is_an_error(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    wh = make_warehouse(world)
    result = wh.run("--source", "all", "--table", "foo.orders")
    assert result.returncode == 2
    assert "--table foo.orders names no table" in result.stderr
    assert not Path(wh.path).exists()


def test_a_normal_mysql_load_prints_no_panic(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    wh = make_warehouse(world)
    env = {"RUST_BACKTRACE": "1"}
    for args in (("--source", "shop"), ("--source", "shop", "--full-refresh")):
        result = wh.run(*args, extra_env=env)
        assert result.returncode == 0, result.output[-2000:]
        assert "panicked" not in result.output and "backtrace" not in result.output.lower()
    assert sum(r["zero_dates_nulled"] for r in wh.audit()) > 0  # the world has zero dates


def test_catalog_tables_equal_the_source_after_the_faults(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    """The catalog's reads through PostgreSQL itself (wide numerics) change nothing else."""
    _catalog(world, "alter table catalog.products add column weight_kg numeric(50,3) null")
    wh = make_warehouse(world)
    wh.load("--source", "catalog")
    assert_raw_equals_source(world.catalog_url, wh.path, "raw_catalog", CATALOG_TABLES)
    wh.load("--source", "catalog")
    assert all(r["rows_loaded"] == 0 for r in wh.audit())
