"""The generator is deterministic and injects every docs/spec.md §2 defect at its stated rate.

Each defect is re-detected here with independent SQL over the generated tables, so a generator
that misreports (or stops injecting) a defect fails.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from world.config import DirtyRates, WorldConfig
from world.generate import World, generate, to_us

AS_OF = datetime(2026, 11, 1)
TABLES = [
    "shop_customers",
    "shop_orders",
    "shop_order_items",
    "shop_payments",
    "catalog_categories",
    "catalog_products",
    "catalog_inventory_levels",
    "hubspot_objects",
    "hubspot_associations",
    "hubspot_campaigns",
    "hubspot_marketing_emails",
    "hubspot_email_events",
]
VALID_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


@pytest.fixture(scope="module")
def world() -> World:
    return generate(WorldConfig(orders=20_000, seed=11, as_of=AS_OF))


def _rows(world: World, table: str) -> list[tuple]:
    return world.db.sql(f"select * from {table} order by all").fetchall()


def test_same_config_gives_identical_rows() -> None:
    cfg = WorldConfig(orders=3_000, seed=5, as_of=AS_OF)
    a, b = generate(cfg), generate(cfg)
    for table in TABLES:
        assert _rows(a, table) == _rows(b, table), table
    assert a.report() == b.report()


def test_another_seed_gives_another_world() -> None:
    a = generate(WorldConfig(orders=3_000, seed=5, as_of=AS_OF))
    b = generate(WorldConfig(orders=3_000, seed=6, as_of=AS_OF))
    assert _rows(a, "shop_orders") != _rows(b, "shop_orders")


def test_scale_follows_orders(world: World) -> None:
    cfg = world.config
    assert world.count("shop_orders") == cfg.orders
    assert world.count("shop_customers") == cfg.customers
    assert world.count("catalog_products") == cfg.products
    items_per_order = world.count("shop_order_items") / cfg.orders
    assert 2.0 < items_per_order < 3.0
    payments_per_order = world.count("shop_payments") / cfg.orders
    assert 0.95 < payments_per_order < 1.1


DETECT = {
    "duplicate_customer_email": """
        select count(*) from (
            select customer_id, row_number() over (
                partition by lower(trim(email)) order by customer_id) as n
            from shop_customers where email is not null) where n > 1""",
    "invalid_customer_email": f"""
        select count(*) from shop_customers
        where email is not null and not regexp_matches(lower(trim(email)), '{VALID_EMAIL}')""",
    "null_country": "select count(*) from shop_customers where country_code is null",
    "soft_deleted_customer": """
        select count(*) from shop_customers
        where deleted_at is not null and email is null and first_name = '' and last_name = ''""",
    "nonpositive_quantity": "select count(*) from shop_order_items where quantity <= 0",
    "orphan_product": """
        select count(*) from shop_order_items
        where product_id not in (select product_id from catalog_products)""",
    "future_placed_at": "select count(*) from shop_orders where placed_at > $as_of",
    "total_mismatch": """
        select count(*) from shop_orders
        where total_amount != subtotal - discount_amount + shipping_amount + tax_amount""",
    "zero_processed_at": "select count(*) from shop_payments where processed_at = '0000-00-00 00:00:00'",
    "contact_without_email": """
        select count(*) from hubspot_objects
        where object_type = 'contacts' and json_extract_string(properties, '$.email') is null""",
    "duplicate_contact_email": """
        select count(*) from (
            select row_number() over (
                partition by lower(trim(json_extract_string(properties, '$.email'))) order by id) as n
            from hubspot_objects
            where object_type = 'contacts' and json_extract_string(properties, '$.email') is not null)
        where n > 1""",
    "null_product_category": "select count(*) from catalog_products where category_id is null",
}


@pytest.mark.parametrize("case", sorted(DETECT))
def test_each_defect_is_present_at_its_reported_count(world: World, case: str) -> None:
    sql = DETECT[case].replace("$as_of", f"'{world.config.as_of.isoformat()}'::timestamp")
    found = world.db.sql(sql).fetchone()
    assert found is not None
    report = world.report()[case]
    assert found[0] == report["rows"], f"{case}: found {found[0]}, reported {report['rows']}"


@pytest.mark.parametrize("case", sorted(DETECT))
def test_each_defect_rate_matches_the_configuration(world: World, case: str) -> None:
    wanted = getattr(DirtyRates(), case)
    got = world.report()[case]["rate"]
    assert got == pytest.approx(wanted, abs=0.001), case
    assert world.report()[case]["rows"] > 0


def test_defects_add_up_to_about_five_percent_of_shop_rows(world: World) -> None:
    report = world.report()
    shop_defects = sum(r["rows"] for r in report.values() if str(r["table"]).startswith("shop."))
    shop_rows = sum(world.count(t) for t in TABLES[:4])
    assert 0.003 < shop_defects / shop_rows < 0.06


def test_history_ends_at_as_of_and_ids_follow_time(world: World) -> None:
    as_of = to_us(world.config.as_of)
    for table in ["shop_customers", "shop_orders", "shop_order_items", "shop_payments"]:
        latest = world.db.sql(f"select max(epoch_us(updated_at)) from {table}").fetchone()
        assert latest is not None and latest[0] < as_of, table
    out_of_order = world.db.execute(
        """select count(*) from (
               select placed_at < lag(placed_at) over (order by order_id) as back
               from shop_orders where placed_at <= $1) where back""",
        [world.config.as_of],
    ).fetchone()
    assert out_of_order == (0,)


def test_totals_add_up_where_not_defective(world: World) -> None:
    wrong = world.db.sql(
        """select count(*) from shop_orders
           where total_amount != subtotal - discount_amount + shipping_amount + tax_amount"""
    ).fetchone()
    assert wrong == (world.report()["total_mismatch"]["rows"],)
    # Subtotal is the sum of the valid lines.
    mismatched = world.db.sql(
        """select count(*) from shop_orders o join (
               select order_id, sum(case when quantity > 0 then quantity * unit_price else 0 end) as s
               from shop_order_items group by 1) i using (order_id)
           where o.subtotal != i.s"""
    ).fetchone()
    assert mismatched == (0,)


def test_hubspot_is_consistent_with_the_shop(world: World) -> None:
    db = world.db
    # Contacts share emails with customers, some only after lower(trim()).
    shared = db.sql(
        """select count(*) filter (where c.email = h.email), count(*)
           from shop_customers c
           join (select json_extract_string(properties, '$.email') as email from hubspot_objects
                 where object_type = 'contacts') h
             on lower(trim(c.email)) = lower(trim(h.email))"""
    ).fetchone()
    assert shared is not None
    exact, total = shared
    assert total > 0.5 * world.config.customers * 0.7
    assert 0 < exact < total  # case/whitespace variation exists
    # Campaign utm values are the ones orders carry (case-insensitively).
    tracked = db.sql(
        """select count(distinct lower(o.utm_campaign)) from shop_orders o
           join hubspot_campaigns c
             on lower(o.utm_campaign) = lower(json_extract_string(c.properties, '$.hs_utm'))"""
    ).fetchone()
    assert tracked == (world.count("hubspot_campaigns"),)
    # Email events go to real contacts, from real marketing emails.
    stray = db.sql(
        """select count(*) from hubspot_email_events e
           where e.recipient not in (
                 select lower(trim(json_extract_string(properties, '$.email'))) from hubspot_objects
                 where object_type = 'contacts' and json_extract_string(properties, '$.email') is not null)
              or e.email_campaign_id::varchar not in (
                 select unnest(from_json(json_extract(body, '$.allEmailCampaignIds'), '["varchar"]'))
                 from hubspot_marketing_emails)"""
    ).fetchone()
    assert stray == (0,)
    # Every non-SENT event points at the SENT event of the same recipient and send.
    orphans = db.sql(
        """select count(*) from hubspot_email_events e
           left join hubspot_email_events s
             on s.id = e.sent_by_id and s.type = 'SENT' and s.recipient = e.recipient
                and s.email_campaign_id = e.email_campaign_id
           where e.type != 'SENT' and s.id is null"""
    ).fetchone()
    assert orphans == (0,)
