"""The independent check: the marts against numbers computed with plain SQL straight from the
source systems (tests/fixtures/source_figures.py), on a generated world with all its dirty data.
They must match exactly: every number we publish must be right.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from tests.fixtures import source_figures
from tests.fixtures.dbt import BuiltWorld
from tests.fixtures.source_figures import net_usd_sql, valid_order_sql

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]


@pytest.fixture(params=["default", "variant"])
def world(request: pytest.FixtureRequest) -> BuiltWorld:
    """Each check runs on the default world and on the variant one (world/variant.py)."""
    name = "built_warehouse" if request.param == "default" else "built_variant_warehouse"
    return request.getfixturevalue(name)


def test_the_build_is_green_on_dirty_data(world: BuiltWorld) -> None:
    assert world.build is not None
    statuses = Counter(world.build.results.values())
    assert statuses["error"] == 0 and statuses["fail"] == 0, statuses
    assert statuses["success"] > 40 and statuses["pass"] > 150
    # The defects are flagged, not hidden: the warnings are data-quality rules, by name.
    warned = {k for k, v in world.build.results.items() if v == "warn"}
    assert all(k.startswith("test.") for k in warned)
    # Every mart is built, on data the generator never makes too.
    built = world.build.built("model")
    assert {
        "fct_orders",
        "fct_order_items",
        "dim_customers",
        "dim_products",
        "fct_daily_revenue",
        "fct_campaign_performance",
        "dim_date",
    } <= built
    if world.manifest.variant:  # each surprise is flagged by its rule, never a build error
        flagged = {
            rule
            for rule, failing in world.mart(
                "select rule_name, rows_failing from data_quality.dq_rule_results"
            )
            if failing
        }
        assert {
            "unknown_channel",
            "unknown_order_status",
            "unknown_payment_value",
            "unexpected_sku_format",
            "unknown_warehouse_code",
            "negative_stock",
            "reserved_above_on_hand",
            "unknown_lifecycle_stage",
            "unknown_deal_stage",
            "customer_created_in_future",
            "event_without_campaign",
        } <= flagged, flagged
        dates = world.mart("select min(date_day), max(date_day) from marts.dim_date")[0]
        first, last = world.shop("select min(date(placed_at)), max(date(placed_at)) from orders")[0]
        assert dates[0] <= first < date(2020, 1, 1) and dates[1] >= last


def test_valid_orders_and_net_revenue_per_day_and_channel(world: BuiltWorld) -> None:
    expected = source_figures.revenue_per_day_and_channel(world)
    actual = {
        (day, channel): (orders, net, discount)
        for day, channel, orders, net, discount in world.mart(
            "select order_date, channel, valid_orders, net_revenue_usd, discount_usd from marts.fct_daily_revenue"
        )
    }
    assert len(expected) > 100
    assert actual == expected
    total = sum((v[1] for v in expected.values()), Decimal(0))
    assert world.mart("select sum(net_revenue_usd) from marts.fct_orders where is_valid_order") == [
        (total,)
    ]


def test_every_order_still_in_the_shop_once_with_its_validity_and_revenue(
    world: BuiltWorld,
) -> None:
    expected = {
        order_id: (bool(valid), net)
        for order_id, valid, net in world.shop(
            f"select order_id, {valid_order_sql()}, {net_usd_sql()} from orders", (world.as_of,)
        )
    }
    actual = {
        order_id: (valid, net)
        for order_id, valid, net in world.mart(
            "select order_id, is_valid_order, net_revenue_usd from marts.fct_orders"
        )
    }
    assert actual == expected
    items = world.shop("select count(*) from order_items")[0][0]
    assert world.mart(
        "select count(*), count(distinct order_item_id) from marts.fct_order_items"
    ) == [(items, items)]


def test_customers_per_segment(world: BuiltWorld) -> None:
    expected = {k: v[:3] for k, v in source_figures.customers(world).items()}
    actual = {
        r[0]: (r[1], r[2], r[3])
        for r in world.mart(
            """select customer_id, customer_segment, lifetime_valid_orders, lifetime_net_revenue_usd
               from marts.dim_customers"""
        )
    }
    assert actual == expected
    per_segment = Counter(segment for segment, _, _ in expected.values())
    assert set(per_segment) == {"prospect", "lapsed", "vip", "loyal", "active"}, per_segment


def test_identity_links_each_customer_to_the_latest_contact_with_their_email(
    world: BuiltWorld,
) -> None:
    pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    customers = world.shop(
        "select customer_id, lower(trim(email)) from customers where deleted_at is null"
    )
    contacts = world.hubspot(
        """select id, lower(trim(json_extract(properties, '$.email'))),
                  json_extract(properties, '$.lastmodifieddate')
           from objects where object_type = 'contacts' and archived = 0"""
    )
    valid = re.compile(pattern)
    latest: dict[str, tuple[str, int]] = {}
    for contact_id, email, modified in contacts:
        if email and valid.match(email):
            key = (modified, contact_id)
            if email not in latest or key > latest[email]:
                latest[email] = key
    expected = {
        customer_id: (
            str(latest[email][1]) if email and valid.match(email) and email in latest else None
        )
        for customer_id, email in customers
    }
    actual = dict(world.mart("select customer_id, hubspot_contact_id from marts.dim_customers"))
    assert actual == expected
    assert sum(v is not None for v in expected.values()) > len(expected) // 2


def test_campaign_email_metrics_and_attributed_revenue(world: BuiltWorld) -> None:
    expected = source_figures.campaigns(world)
    actual = {
        r[0]: tuple(r[1:])
        for r in world.mart(
            """select campaign_id, emails_sent, emails_delivered, unique_opens, unique_clicks,
                      attributed_valid_orders, attributed_net_revenue_usd
               from marts.fct_campaign_performance"""
        )
    }
    assert actual == expected
    if not world.manifest.variant:  # the variant portal has no campaigns at all
        assert sum(v[4] for v in expected.values()) > 0 and sum(v[0] for v in expected.values()) > 0


def test_stock_per_product(world: BuiltWorld) -> None:
    expected = {p: (n, n > 0) for p, n in source_figures.stock_on_hand(world).items()}
    actual = {
        r[0]: (r[1], r[2])
        for r in world.mart(
            "select product_id, quantity_on_hand, is_in_stock from marts.dim_products"
        )
    }
    assert actual == expected


# The generator's defect report (world/) names each injected defect; the rule that catches it.
REPORT_TO_RULE = {
    "duplicate_customer_email": "duplicate_customer_email",
    "invalid_customer_email": "invalid_customer_email",
    "null_country": "missing_country",
    "future_placed_at": "future_placed_at",
    "total_mismatch": "total_mismatch",
    "nonpositive_quantity": "nonpositive_quantity",
    "orphan_product": "orphan_product",
    "zero_processed_at": "missing_processed_at",
    "null_product_category": "missing_category",
    "contact_without_email": "contact_without_email",
    "duplicate_contact_email": "duplicate_contact_email",
}


def test_every_injected_defect_is_counted_by_its_rule(world: BuiltWorld) -> None:
    report = world.manifest.report
    results = {
        rule: (failing, checked, rate)
        for rule, failing, checked, rate in world.mart(
            "select rule_name, rows_failing, rows_checked, failure_rate from data_quality.dq_rule_results"
        )
    }
    for defect, rule in REPORT_TO_RULE.items():
        assert report[defect]["rows"] > 0, defect
        assert results[rule][0] == report[defect]["rows"], (defect, results[rule], report[defect])
        failing, checked, rate = results[rule]
        assert rate == round(Decimal(failing) / Decimal(checked), 6)
    # The quarantine holds each failing record once, with its reason and load.
    per_rule = dict(
        world.mart(
            """select rule_name, count(*) from data_quality.dq_issues
               where reason is not null and load_id is not null group by 1"""
        )
    )
    assert per_rule == {rule: r[0] for rule, r in results.items() if r[0]}
    future = {
        str(r[0])
        for r in world.shop("select order_id from orders where placed_at > %s", (world.as_of,))
    }
    assert future == {
        r[0]
        for r in world.mart(
            "select record_key from data_quality.dq_issues where rule_name = 'future_placed_at'"
        )
    }


PII_COLUMNS = {
    "email",
    "email_normalized",
    "recipient_email",
    "first_name",
    "last_name",
    "firstname",
    "lastname",
    "phone",
    "city",
}


def test_stored_test_failures_hold_no_clear_text_pii(world: BuiltWorld) -> None:
    columns = world.mart(
        """select table_schema, table_name, column_name, data_type from information_schema.columns
           where table_schema like '%test_failures'"""
    )
    assert columns, "no stored test failures at all"
    for schema, table, column, data_type in columns:
        relation = f'"{schema}"."{table}"'
        if column.lower() in PII_COLUMNS:  # e.g. not_null's own column: nulls only
            hits = world.mart(f'select count(*) from {relation} where "{column}" is not null')[0][0]
            assert hits == 0, f"{schema}.{table} stores clear-text {column}"
        if data_type.upper().startswith("VARCHAR"):
            hits = world.mart(f"select count(*) from {relation} where \"{column}\" like '%@%.%'")[
                0
            ][0]
            assert hits == 0, f"{schema}.{table}.{column} holds what looks like an email"


def test_only_the_tests_that_fail_keep_their_failing_rows(world: BuiltWorld) -> None:
    """test_failures holds a table for each test that warned or failed in the build, and no
    empty table of a test that passed (macros/data_quality/test_materialization.sql)."""
    stored = {
        table: world.mart(f'select count(*) from "{schema}"."{table}"')[0][0]
        for schema, table in world.mart(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema like '%test_failures'"
        )
    }
    assert stored, "no stored test failures at all"
    assert all(rows > 0 for rows in stored.values()), stored
    assert world.build is not None
    manifest = json.loads((world.dbt.target_dir / "manifest.json").read_text())
    failing = {
        manifest["nodes"][uid]["alias"]
        for uid, status in world.build.statuses("test.").items()
        if status in ("warn", "fail")
    }
    assert failing and failing <= set(stored), failing - set(stored)
