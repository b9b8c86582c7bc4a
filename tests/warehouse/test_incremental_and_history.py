"""A day of change, loaded incrementally and built incrementally: the facts equal a full refresh,
late updates and hard deletes come through, and the snapshots keep the history (SCD2) that the
catalog and the shop overwrite."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.fixtures.dbt import BuiltWorld, DbtProject, built_world, dbt_env
from tests.fixtures.services import DatabaseFactory
from world.change import ChangeReport

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]


@dataclasses.dataclass
class ChangedWorld:
    world: BuiltWorld
    report: ChangeReport
    prices_before: dict[int, Decimal]
    stock_before: dict[tuple[int, str], int]
    first_as_of: str
    email_campaigns_before: dict[str, str]
    issues_before: set[str]
    issues_resolved: set[str]


@pytest.fixture(scope="module")
def changed(
    module_databases: tuple[DatabaseFactory, DatabaseFactory],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ChangedWorld]:
    mysql, postgres = module_databases
    with built_world(
        tmp_path_factory.mktemp("incremental"), mysql, postgres, orders=3_000, seed=41
    ) as world:
        prices = {
            int(p): v
            for p, v in world.catalog("select product_id, list_price from catalog.products")
        }
        stock = {
            (int(p), w): q
            for p, w, q in world.catalog(
                "select product_id, warehouse_code, quantity_on_hand from catalog.inventory_levels"
            )
        }
        first_as_of = world.as_of
        email_campaigns = dict(
            world.mart("select marketing_email_id, campaign_id from marts.fct_email_sends")
        )
        issues = {r[0] for r in world.mart("select issue_id from data_quality.dq_issues")}
        report = world.change(fraction=0.03)
        resolved = _resolve_two_issues(world)
        world.load()
        world.build_all()
        yield ChangedWorld(
            world, report, prices, stock, first_as_of, email_campaigns, issues, resolved
        )


def _resolve_two_issues(world: BuiltWorld) -> set[str]:
    """The shop corrects an order's total and purges the order of a defective line
    (docs/spec.md §1a: test orders go with their items and payments): both issues must leave the
    quarantine. It also breaks another order's total, which must enter it."""
    (order_issue, order_id), (line_issue, line_id) = (
        world.mart(
            f"select issue_id, record_key from data_quality.dq_issues where rule_name = '{rule}' "
            "order by record_key limit 1"
        )[0]
        for rule in ("total_mismatch", "nonpositive_quantity")
    )
    world.shop(
        "update orders set total_amount = subtotal - discount_amount + shipping_amount + tax_amount "
        "where order_id = %s",
        (int(order_id),),
    )
    (purged,) = world.shop(
        "select order_id from order_items where order_item_id = %s", (int(line_id),)
    )[0]
    for table in ("order_items", "payments", "orders"):
        world.shop(f"delete from {table} where order_id = %s", (purged,))
    world.shop(
        "update orders set total_amount = total_amount + 1 where order_id = (select clean.id from "
        "(select min(order_id) as id from orders "
        "where total_amount = subtotal - discount_amount + shipping_amount + tax_amount) as clean)"
    )
    return {order_issue, line_issue}


def _utc_today() -> date:
    return datetime.now(UTC).date()


def _rows(world: BuiltWorld, table: str, key: str) -> list[tuple[Any, ...]]:
    # _built_at stamps the build that wrote the row: it differs by design.
    schema = "intermediate" if table.startswith("int_") else "marts"
    return world.mart(f"select * exclude (_built_at) from {schema}.{table} order by {key}")


def test_the_change_touched_what_the_facts_must_follow(changed: ChangedWorld) -> None:
    report = changed.report
    assert report.hard_deleted_order_ids and report.late_updated_order_ids
    assert report.soft_deleted_customer_ids
    assert report.counts["catalog.products repriced"] > 0
    assert report.moved_marketing_email_id  # its sends' attribution moves in fct_email_sends


def test_the_sends_of_a_moved_email_move_to_its_new_campaign(changed: ChangedWorld) -> None:
    """An email moved to another campaign takes its sends' events with it, though none of them
    was loaded again: the incremental build compares the campaign each send holds."""
    email = changed.report.moved_marketing_email_id
    (now,) = changed.world.mart(
        f"select campaign_id from staging.stg_hubspot__marketing_emails "
        f"where marketing_email_id = '{email}'"
    )
    assert now[0] != changed.email_campaigns_before[email]
    held = changed.world.mart(
        f"select distinct campaign_id from marts.fct_email_sends where marketing_email_id = '{email}'"
    )
    assert held == [now]


def test_the_orders_of_a_renamed_utm_lose_their_campaign(changed: ChangedWorld) -> None:
    """A campaign's utm renamed: the orders tagged with the old one, none of them changed, are
    no longer its revenue after the incremental build."""
    assert changed.report.renamed_utm
    campaign_id, old_utm = changed.report.renamed_utm
    tagged = changed.world.mart(
        f"select count(*) from staging.stg_shop__orders where utm_campaign_normalized = '{old_utm.lower()}'"
    )[0][0]
    assert tagged > 0
    assert changed.world.mart(
        "select count(*) from marts.fct_orders as f join staging.stg_shop__orders as o "
        f"using (order_id) where o.utm_campaign_normalized = '{old_utm.lower()}' "
        f"and f.campaign_id = '{campaign_id}'"
    ) == [(0,)]


def test_an_order_in_the_future_counts_once_its_time_comes(
    changed: ChangedWorld, tmp_path: Path
) -> None:
    """The first incremental build after an order's time has come counts it as valid, in both
    facts and in its customer's lifetime figures, though nothing of it changed (on a copy of
    the warehouse: the clock moves on; the views take the clock when they are built)."""
    world = changed.world
    copy = tmp_path / "warehouse.duckdb"  # the same file name: the same database name
    shutil.copy(world.dbt.warehouse, copy)
    dbt = DbtProject(
        str(copy), tmp_path / "target", dbt_env(str(copy), tmp_path / "target", world.dbt.env)
    )
    order_id, customer_id, placed_at = dbt.sql(
        """select orders.order_id, orders.customer_id, orders.placed_at from marts.fct_orders as orders
           inner join seeds.order_statuses as statuses on orders.status = statuses.order_status
           where orders.is_placed_in_future and statuses.is_revenue_status
               and orders.customer_id in (select customer_id from marts.dim_customers)
           order by orders.order_id limit 1"""
    )[0]
    quarantined = (
        "select count(*) from data_quality.dq_issues "
        f"where rule_name = 'future_placed_at' and record_key = '{order_id}'"
    )
    assert dbt.sql(quarantined) == [(1,)]
    later = (placed_at + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    dbt.run(
        *("run", "--target", "ci", "--select", "+fct_orders", "+fct_order_items", "+dim_customers"),
        *("--vars", json.dumps({"as_of": later})),
    )
    assert dbt.sql(
        f"select is_valid_order, is_placed_in_future from marts.fct_orders where order_id = {order_id}"
    ) == [(True, False)]
    assert dbt.sql(quarantined) == [(0,)]  # it leaves the quarantine, though nothing changed
    assert {
        v
        for (v,) in dbt.sql(
            f"select is_valid_order from marts.fct_order_items where order_id = {order_id}"
        )
    } == {True}
    # The customer's lifetime figures count it too, though none of their orders changed.
    valid, revenue = dbt.sql(
        f"select count(*), sum(net_revenue_usd) from marts.fct_orders "
        f"where customer_id = {customer_id} and is_valid_order"
    )[0]
    assert dbt.sql(
        "select lifetime_valid_orders, lifetime_net_revenue_usd from marts.dim_customers "
        f"where customer_id = {customer_id}"
    ) == [(valid, revenue)]


def test_hard_deleted_orders_leave_the_facts(changed: ChangedWorld) -> None:
    ids = ",".join(str(i) for i in changed.report.hard_deleted_order_ids)
    assert changed.world.mart(
        f"select count(*) from marts.fct_orders where order_id in ({ids})"
    ) == [(0,)]
    assert changed.world.mart(
        f"select count(*) from marts.fct_order_items where order_id in ({ids})"
    ) == [(0,)]


def test_late_status_changes_reach_the_facts(changed: ChangedWorld) -> None:
    ids = ",".join(str(i) for i in changed.report.late_updated_order_ids)
    expected = dict(
        changed.world.shop(f"select order_id, status from orders where order_id in ({ids})")
    )
    actual = dict(
        changed.world.mart(
            f"select order_id, status from marts.fct_orders where order_id in ({ids})"
        )
    )
    assert actual == expected
    # Weeks old: outside the lookback window by placed_at, caught by updated_at.
    oldest = changed.world.mart(
        f"select min(placed_at) from marts.fct_orders where order_id in ({ids})"
    )[0][0]
    assert oldest.date() < _utc_today() - timedelta(days=14)


def test_forgotten_customers_leave_dim_customers_and_their_history_says_so(
    changed: ChangedWorld,
) -> None:
    ids = ",".join(str(i) for i in changed.report.soft_deleted_customer_ids)
    world = changed.world
    assert world.mart(f"select count(*) from marts.dim_customers where customer_id in ({ids})") == [
        (0,)
    ]
    versions = world.mart(
        f"""select customer_id, count(*), count(*) filter (where dbt_valid_to is null),
                   bool_or(dbt_valid_to is null and is_deleted)
            from snapshots.snap_customers where customer_id in ({ids}) group by 1"""
    )
    assert len(versions) == len(changed.report.soft_deleted_customer_ids)
    assert all(total >= 2 and current == 1 and deleted for _, total, current, deleted in versions)


def test_snapshots_hold_one_current_version_per_key(changed: ChangedWorld) -> None:
    world = changed.world
    for snapshot, key in (
        ("snap_product_prices", "product_id"),
        ("snap_inventory_levels", "inventory_level_id"),
        ("snap_customers", "customer_id"),
    ):
        assert world.mart(
            f"""select count(*) from (
                    select {key} from snapshots.{snapshot} where dbt_valid_to is null
                    group by 1 having count(*) > 1)"""
        ) == [(0,)], snapshot
        # Validity windows of a key follow each other without gaps or overlaps.
        assert world.mart(
            f"""select count(*) from (
                    select dbt_valid_to,
                           lead(dbt_valid_from) over (partition by {key} order by dbt_valid_from) as next_from
                    from snapshots.{snapshot})
                where next_from is not null and dbt_valid_to <> next_from"""
        ) == [(0,)], snapshot


def test_repriced_products_have_their_old_price_closed_and_the_new_one_current(
    changed: ChangedWorld,
) -> None:
    world = changed.world
    now = {
        int(p): v for p, v in world.catalog("select product_id, list_price from catalog.products")
    }
    repriced = {p for p, v in changed.prices_before.items() if now[p] != v}
    assert len(repriced) == changed.report.counts["catalog.products repriced"] or repriced
    history: dict[int, list[tuple[Decimal, bool]]] = {}
    for product_id, price, current in world.mart(
        """select product_id, list_price, is_current from marts.dim_product_price_history
           order by product_id, valid_from"""
    ):
        history.setdefault(product_id, []).append((price, current))
    for product_id in repriced:
        assert history[product_id] == [
            (changed.prices_before[product_id], False),
            (now[product_id], True),
        ], product_id
    unchanged = set(changed.prices_before) - repriced
    assert all(len(history[p]) == 1 for p in unchanged)


def test_price_and_stock_of_a_product_on_a_date(changed: ChangedWorld) -> None:
    """The analysis answers "what did X cost and how much was in stock on D" from the history."""
    world = changed.world
    now = {
        int(p): v for p, v in world.catalog("select product_id, list_price from catalog.products")
    }
    restocked = {
        (p, w)
        for p, w, q in world.catalog(
            "select product_id, warehouse_code, quantity_on_hand from catalog.inventory_levels"
        )
        if changed.stock_before.get((int(p), w)) not in (None, q)
    }
    candidates = [
        p
        for p, v in changed.prices_before.items()
        if now[p] != v and any(r[0] == p for r in restocked)
    ]
    product_id = (
        candidates[0]
        if candidates
        else next(p for p, v in changed.prices_before.items() if now[p] != v)
    )
    stock_now = {
        w: q
        for p, w, q in world.catalog(
            f"select product_id, warehouse_code, quantity_on_hand from catalog.inventory_levels where product_id = {product_id}"
        )
    }
    yesterday = (_utc_today() - timedelta(days=1)).isoformat()
    today = _utc_today().isoformat()
    before = _analysis(world, product_id, yesterday)
    after = _analysis(world, product_id, today)
    assert before == [
        (
            date.fromisoformat(yesterday),
            product_id,
            changed.prices_before[product_id],
            sum(q for (p, _), q in changed.stock_before.items() if p == product_id),
        )
    ]
    assert after[0][2:] == (now[product_id], sum(stock_now.values()))


def _analysis(world: BuiltWorld, product_id: int, on_date: str) -> list[tuple[Any, ...]]:
    world.dbt.run(
        "compile",
        "--target",
        "ci",
        "--select",
        "product_price_and_stock_on_date",
        "--vars",
        f'{{product_id: {product_id}, on_date: "{on_date}"}}',
    )
    compiled = next(
        Path(world.dbt.target_dir).glob(
            "compiled/shopsphere/analyses/product_price_and_stock_on_date.sql"
        )
    ).read_text()
    with duckdb.connect(world.dbt.warehouse, read_only=True) as con:
        rows = con.sql(compiled).fetchall()
    return [(r[0], r[1], r[2], r[4]) for r in rows]


STAGING = [
    f"stg_{source}__{table}"
    for source, tables in (
        ("shop", ("customers", "orders", "order_items", "payments")),
        ("catalog", ("categories", "products", "inventory_levels")),
        ("hubspot", ("contacts", "companies", "deals", "campaigns", "marketing_emails")),
        ("hubspot", ("email_events",)),
    )
    for table in tables
]


def test_the_tests_of_an_incremental_build_read_the_rows_it_wrote(changed: ChangedWorld) -> None:
    """The day's build stamps the rows it rewrote, and its tests read those: a defect in one of
    them fails the test; a defect in an older row is seen by the run with test_history only."""
    world = changed.world
    test = "not_null_stg_shop__orders_order_status"
    latest = "_built_at = (select max(_built_at) from staging.stg_shop__orders)"
    with duckdb.connect(world.dbt.warehouse) as con:
        rows, rewritten, from_the_days_loads, new_id, old_id = con.sql(
            f"""select count(*), count(*) filter (where {latest}),
                    count(*) filter (where {latest} and _load_id in (
                        select load_id from raw_shop._dlt_loads
                        where inserted_at > (select min(inserted_at) from raw_shop._dlt_loads))),
                    min(order_id) filter (where {latest}),
                    min(order_id) filter (where not ({latest}))
                from staging.stg_shop__orders"""
        ).fetchone() or (0, 0, 0, None, None)
    assert 0 < rewritten < rows / 4, (rewritten, rows)
    assert rewritten == from_the_days_loads  # the second build rewrote the day's loads' rows

    def test_with_a_null_status(order_id: int, test_vars: dict[str, Any]) -> str:
        with duckdb.connect(world.dbt.warehouse) as con:
            (status,) = con.execute(
                "select order_status from staging.stg_shop__orders where order_id = ?", [order_id]
            ).fetchone() or (None,)
            assert status is not None
            con.execute(
                "update staging.stg_shop__orders set order_status = null where order_id = ?",
                [order_id],
            )
        try:
            run = world.dbt.run(
                *("test", "--target", "ci", "--select", test),
                *("--vars", json.dumps({"as_of": world.as_of, **test_vars})),
                check=False,
            )
        finally:
            with duckdb.connect(world.dbt.warehouse) as con:
                con.execute(
                    "update staging.stg_shop__orders set order_status = ? where order_id = ?",
                    [status, order_id],
                )
        (outcome,) = [s for uid, s in run.results.items() if uid.split(".")[2] == test]
        return outcome

    assert test_with_a_null_status(new_id, {}) == "fail"
    assert test_with_a_null_status(old_id, {}) == "pass"
    assert test_with_a_null_status(old_id, {"test_history": True}) == "fail"


SNAPSHOTS = {
    "snap_customers": "customer_id",
    "snap_product_prices": "product_id",
    "snap_inventory_levels": "inventory_level_id",
}


def test_snapshots_compare_the_changed_keys_as_they_would_every_row(changed: ChangedWorld) -> None:
    """A snapshot compares only the keys staging rewrote or a load deleted since its last run
    (macros/incremental/snapshots.sql). From the same history and the same staging, that records exactly
    the versions dbt's comparison of every row records: a customer, a product and a stock row
    hard-deleted at the sources (found by the reconciliation), and a customer updated, on top
    of the day."""
    world = changed.world
    gone_customer, gone_product = _delete_a_customer_and_a_product_at_the_sources(world)
    # The shop soft-deletes customers: only the change stream and the weekly reconciliation
    # see a hard delete of one.
    world.load("--reconcile")
    staging = [
        "stg_shop__customers",
        "stg_shop__deleted_customers",
        "int_customers_pseudonymized",
        "stg_catalog__products",
        "stg_catalog__deleted_products",
        "stg_catalog__inventory_levels",
        "stg_catalog__deleted_inventory_levels",
    ]
    world.dbt.run("run", "--target", "ci", "--vars", world.vars, "--select", *staging)
    with duckdb.connect(world.dbt.warehouse) as con:
        con.execute("create schema snapshots_before")
        for snapshot in SNAPSHOTS:
            con.execute(f"create table snapshots_before.{snapshot} as from snapshots.{snapshot}")

    every_row, whole_log = _snapshot_from_before(
        world, "--vars", json.dumps({**json.loads(world.vars), "snapshots_compare_every_row": True})
    )
    changed_keys, narrowed_log = _snapshot_from_before(world, "--vars", world.vars)
    # The view of the changed keys' rows is what the narrowed comparison reads.
    assert '__changed_rows" as (' not in whole_log
    assert all(f'{name}__changed_rows" as (' in narrowed_log for name in SNAPSHOTS)
    assert changed_keys == every_row
    for name, key, gone in (
        ("snap_customers", "customer_id", gone_customer),
        ("snap_product_prices", "product_id", gone_product),
    ):
        assert world.mart(
            f"select dbt_is_deleted from snapshots.{name} where {key} = {gone} "
            "and dbt_valid_to is null"
        ) == [("True",)], name
    assert world.mart(
        f"select count(*) from snapshots.snap_inventory_levels where product_id = {gone_product} "
        "and dbt_valid_to is null and dbt_is_deleted = 'True'"
    ) != [(0,)]
    with duckdb.connect(world.dbt.warehouse) as con:
        con.execute("drop schema snapshots_before cascade")
        leftover = con.sql(
            "select count(*) from information_schema.tables where table_name like '%changed_rows'"
        ).fetchone()
    assert leftover == (0,)


def _delete_a_customer_and_a_product_at_the_sources(world: BuiltWorld) -> tuple[int, int]:
    """A customer without orders and a product never sold (with its stock rows) hard-deleted,
    and another customer updated."""
    ordered = {r[0] for r in world.shop("select distinct customer_id from orders")}
    (gone_customer,) = [
        c for (c,) in world.shop("select customer_id from customers") if c not in ordered
    ][:1]
    world.shop("delete from customers where customer_id = %s", (gone_customer,))
    world.shop(
        "update customers set marketing_opt_in = 1 - marketing_opt_in, "
        "updated_at = current_timestamp(6) order by customer_id desc limit 1"
    )
    sold = {r[0] for r in world.shop("select distinct product_id from order_items")}
    (gone_product,) = [
        p
        for (p,) in world.catalog(
            "select product_id from catalog.products where product_id in "
            "(select product_id from catalog.inventory_levels) order by product_id"
        )
        if p not in sold
    ][:1]
    world.catalog(
        f"delete from catalog.inventory_levels where product_id = {gone_product} returning 1"
    )
    world.catalog(f"delete from catalog.products where product_id = {gone_product} returning 1")
    return gone_customer, gone_product


def _snapshot_from_before(
    world: BuiltWorld, *extra: str
) -> tuple[dict[str, list[tuple[Any, ...]]], str]:
    """The snapshots put back as they were (snapshots_before), then `dbt snapshot`: their rows
    and the run's debug log."""
    with duckdb.connect(world.dbt.warehouse) as con:
        for name in SNAPSHOTS:
            con.execute(f"create or replace table snapshots.{name} as from snapshots_before.{name}")
    run = world.dbt.run("snapshot", "--target", "ci", "--debug", *extra)
    return {name: _snapshot_rows(world, name, key) for name, key in SNAPSHOTS.items()}, run.output


def _snapshot_rows(world: BuiltWorld, snapshot: str, key: str) -> list[tuple[Any, ...]]:
    """A snapshot's versions, with the run's own time (a deletion's, and the id made of it)
    left out: every other column, whether the version is current and when it began."""
    return world.mart(
        f"""select * exclude (dbt_scd_id, dbt_updated_at, dbt_valid_from, dbt_valid_to),
                   dbt_valid_to is null as is_current,
                   case when dbt_is_deleted = 'False' then dbt_valid_from end as valid_from
            from snapshots.{snapshot} order by all"""
    )


def test_deleted_keys_reach_staging_and_the_facts_and_a_reload_is_compared_once(
    changed: ChangedWorld,
) -> None:
    """The day's hard deletes arrived as keys beside raw (raw_shop._deleted_orders), which is
    what staging and the facts delete by. A reload (a full refresh) carries no keys: an order
    purged before it must still leave staging and the facts, through the one comparison a
    reload triggers; so must a contact HubSpot deleted for good. Runs before the full-refresh
    proofs below, which then cover it too."""
    world = changed.world
    deleted = {r[0] for r in world.mart("select order_id from raw_shop._deleted_orders")}
    assert set(changed.report.hard_deleted_order_ids) <= deleted
    (purged,) = world.shop(
        "select max(order_id) from orders where order_id in (select order_id from order_items)"
    )[0]
    for table in ("order_items", "payments", "orders"):
        world.shop(f"delete from {table} where order_id = %s", (purged,))
    # HubSpot's permanent (GDPR) delete: the contact is gone from the API, archived or not.
    with contextlib.closing(sqlite3.connect(world.manifest.hubspot_store)) as portal, portal:
        (contact,) = portal.execute(
            "select max(id) from objects where object_type = 'contacts'"
        ).fetchone()
        portal.execute(f"delete from objects where object_type = 'contacts' and id = {contact}")
    world.load("--full-refresh")
    assert world.mart(
        f"select count(*) from raw_shop._deleted_orders where order_id = {purged}"
    ) == [(0,)]
    world.build_all()
    for relation in (
        "staging.stg_shop__orders",
        "staging.stg_shop__order_items",
        "intermediate.int_orders_joined_to_items_and_payments",
        "marts.fct_orders",
        "marts.fct_order_items",
    ):
        assert world.mart(f"select count(*) from {relation} where order_id = {purged}") == [(0,)], (
            relation
        )
    assert world.mart(
        f"select count(*) from staging.stg_hubspot__contacts where contact_id = '{contact}'"
    ) == [(0,)]


def test_incremental_staging_equals_a_full_refresh(changed: ChangedWorld) -> None:
    """Staging built from the day's loads only holds exactly what a rebuild from all of raw does:
    the changed rows in their new version, the deleted ones gone, nothing else touched."""
    world = changed.world
    compiled = Path(world.dbt.target_dir) / "compiled/shopsphere/models/staging/shop"
    run_sql = compiled / "stg_shop__orders.sql"
    assert "inserted_at >" in run_sql.read_text()  # the second build read the day's loads only
    with duckdb.connect(world.dbt.warehouse) as con:
        con.execute("create schema staging_incremental")
        for model in STAGING:
            con.execute(f"create table staging_incremental.{model} as from staging.{model}")
    world.dbt.run(
        "run", "--target", "ci", "--vars", world.vars, "--full-refresh", "--select", *STAGING
    )
    assert "inserted_at >" not in run_sql.read_text()
    with duckdb.connect(world.dbt.warehouse) as con:
        for model in STAGING:
            full, incremental = f"staging.{model}", f"staging_incremental.{model}"
            (rows,) = con.sql(f"select count(*) from {full}").fetchone() or (0,)
            assert rows, model
            for a, b in ((full, incremental), (incremental, full)):
                diff = con.sql(
                    f"select count(*) from (select * exclude (_built_at) from {a} "
                    f"except all select * exclude (_built_at) from {b})"
                ).fetchone()
                assert diff == (0,), f"{model}: rows of {a} not in {b}"
        con.execute("drop schema staging_incremental cascade")


def test_incremental_facts_equal_a_full_refresh(changed: ChangedWorld) -> None:
    """Runs last in the module: it rebuilds the facts from scratch and compares."""
    world = changed.world
    run_sql = Path(world.dbt.target_dir) / "run/shopsphere/models/marts/core/fct_orders.sql"
    assert "delete from" in run_sql.read_text().lower()  # the second build was incremental
    facts = (
        ("fct_orders", "order_id"),
        ("fct_order_items", "order_item_id"),
        ("fct_email_sends", "email_send_id"),
        ("int_orders_joined_to_items_and_payments", "order_id"),
    )
    sends_sql = (
        Path(world.dbt.target_dir) / "run/shopsphere/models/marts/marketing/fct_email_sends.sql"
    )
    assert "delete from" in sends_sql.read_text().lower()
    aggregate = (
        Path(world.dbt.target_dir)
        / "run/shopsphere/models/intermediate/core/int_customers_aggregated_from_orders.sql"
    )
    assert "delete from" in aggregate.read_text().lower()
    quarantine = Path(world.dbt.target_dir) / "run/shopsphere/models/data_quality/dq_issues.sql"
    assert "delete from" in quarantine.read_text().lower()
    incremental = {t: _rows(world, t, k) for t, k in facts}
    incremental["customers"] = _customer_rows(world)
    incremental["dq_issues"] = _quarantine_rows(world)
    # The day's change corrected and deleted quarantined records and brought new ones.
    issues = {r[0] for r in incremental["dq_issues"]}
    assert changed.issues_resolved <= changed.issues_before - issues
    assert issues - changed.issues_before
    assert len(incremental["fct_orders"]) == world.shop("select count(*) from orders")[0][0]
    world.dbt.run(
        "build",
        "--target",
        "ci",
        "--vars",
        world.vars,
        "--full-refresh",
        "--select",
        "int_orders_joined_to_items_and_payments",
        "fct_orders",
        "fct_order_items",
        "fct_email_sends",
        "int_customers_aggregated_from_orders+",
        "dq_issues",
    )
    assert "delete from" not in run_sql.read_text().lower()
    assert "delete from" not in aggregate.read_text().lower()
    assert "delete from" not in quarantine.read_text().lower()
    full = {t: _rows(world, t, k) for t, k in facts}
    full["customers"] = _customer_rows(world)
    full["dq_issues"] = _quarantine_rows(world)
    for table in full:
        assert incremental[table] == full[table], table


def _customer_rows(world: BuiltWorld) -> list[tuple[Any, ...]]:
    """The per-customer aggregate (without the build's stamps) and the customer mart."""
    return world.mart(
        "select * exclude (_built_at, _as_of) from intermediate.int_customers_aggregated_from_orders "
        "order by customer_id"
    ) + world.mart(
        "select * exclude (_built_at, _as_of) from marts.dim_customers order by customer_id"
    )


def _quarantine_rows(world: BuiltWorld) -> list[tuple[Any, ...]]:
    """The quarantine without the build's stamps (an incremental build keeps a record's first
    detection; a full refresh detects every record anew)."""
    return world.mart(
        "select * exclude (_built_at, detected_at) from data_quality.dq_issues order by issue_id"
    )
