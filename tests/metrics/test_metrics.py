"""The semantic layer against two other answers, on the default and the variant world:

- the marts, through plain SQL: each metric per day and its main dimension and in total;
- the source systems, through the independent check (tests/fixtures/source_figures.py), for the
  metrics docs/spec.md §3 defines on them.

MetricFlow's answers come through reports.metrics, the way every consumer asks it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from reports.metrics import SemanticLayer
from tests.fixtures import source_figures
from tests.fixtures.dbt import BuiltWorld

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]

VALID_ORDERS = "marts.fct_orders where is_valid_order"
LINES = (
    "marts.fct_order_items as items inner join marts.fct_orders as orders"
    " on items.order_id = orders.order_id"
)
SENDS = "marts.fct_email_sends"


@dataclasses.dataclass(frozen=True)
class OnTheMarts:
    """How plain SQL on the marts answers a metric: `select <value> from <relation>`, grouped by
    `<day>` (metric_time__day) and `<dim>` (MetricFlow's `by`)."""

    relation: str
    value: str
    by: str | None
    dim: str | None
    day: str | None


ORDER_DIMS = {"by": "order__channel", "dim": "channel", "day": "order_date"}
LINE_DIMS = {"by": "order__channel", "dim": "orders.channel", "day": "items.order_date"}
CUSTOMER_DIMS = {
    "by": "customer__customer_segment",
    "dim": "customer_segment",
    "day": "cast(first_order_at as date)",
}
SEND_DIMS = {"by": "campaign", "dim": "campaign_id", "day": "sent_date"}
STOCK_DIMS = {
    "by": "product__top_category_name",
    "dim": "top_category_name",
    "day": "stock_as_of_date",
}


def ratio(numerator: str, denominator: str) -> str:
    return f"cast({numerator} as double) / nullif({denominator}, 0)"


MARTS: dict[str, OnTheMarts] = {
    "valid_orders": OnTheMarts(VALID_ORDERS, "count(*)", **ORDER_DIMS),
    "orders_placed": OnTheMarts("marts.fct_orders", "count(*)", **ORDER_DIMS),
    "net_revenue_usd": OnTheMarts(VALID_ORDERS, "sum(net_revenue_usd)", **ORDER_DIMS),
    "average_order_value_usd": OnTheMarts(
        VALID_ORDERS, ratio("sum(net_revenue_usd)", "count(*)"), **ORDER_DIMS
    ),
    "discount_usd": OnTheMarts(VALID_ORDERS, "sum(discount_usd)", **ORDER_DIMS),
    "units_sold": OnTheMarts(VALID_ORDERS, "sum(item_count)", **ORDER_DIMS),
    "ordering_customers": OnTheMarts(VALID_ORDERS, "count(distinct customer_id)", **ORDER_DIMS),
    "net_revenue_per_ordering_customer_usd": OnTheMarts(
        VALID_ORDERS,
        ratio(
            "sum(case when customer_id is not null then net_revenue_usd end)",
            "count(distinct customer_id)",
        ),
        **ORDER_DIMS,
    ),
    "attributed_orders": OnTheMarts(
        f"{VALID_ORDERS} and campaign_id is not null", "count(*)", **ORDER_DIMS
    ),
    "attributed_revenue_usd": OnTheMarts(
        f"{VALID_ORDERS} and campaign_id is not null", "sum(net_revenue_usd)", **ORDER_DIMS
    ),
    "order_lines": OnTheMarts(LINES, "count(*)", **LINE_DIMS),
    "quarantined_order_lines": OnTheMarts(
        LINES, "count(case when items.is_quarantined then 1 end)", **LINE_DIMS
    ),
    "quarantined_order_line_share": OnTheMarts(
        LINES, ratio("count(case when items.is_quarantined then 1 end)", "count(*)"), **LINE_DIMS
    ),
    "new_customers": OnTheMarts(
        "marts.dim_customers",
        "sum(case when first_order_at is not null then 1 else 0 end)",
        **CUSTOMER_DIMS,
    ),
    "repeat_customers": OnTheMarts(
        "marts.dim_customers",
        "sum(case when lifetime_valid_orders >= 2 then 1 else 0 end)",
        **CUSTOMER_DIMS,
    ),
    "repeat_purchase_rate": OnTheMarts(
        "marts.dim_customers",
        ratio(
            "sum(case when lifetime_valid_orders >= 2 then 1 else 0 end)",
            "sum(case when first_order_at is not null then 1 else 0 end)",
        ),
        **CUSTOMER_DIMS,
    ),
    "customer_accounts_opened": OnTheMarts(
        "marts.dim_customers", "count(*)", **{**CUSTOMER_DIMS, "day": "cast(created_at as date)"}
    ),
    "emails_sent": OnTheMarts(SENDS, "sum(sent_events)", **SEND_DIMS),
    "emails_delivered": OnTheMarts(SENDS, "sum(delivered_events)", **SEND_DIMS),
    "emails_bounced": OnTheMarts(SENDS, "sum(bounce_events)", **SEND_DIMS),
    "unique_opens": OnTheMarts(SENDS, "count(case when is_opened then 1 end)", **SEND_DIMS),
    "unique_clicks": OnTheMarts(SENDS, "count(case when is_clicked then 1 end)", **SEND_DIMS),
    "unsubscribes": OnTheMarts(SENDS, "sum(unsubscribes)", **SEND_DIMS),
    "open_rate": OnTheMarts(
        SENDS, ratio("count(case when is_opened then 1 end)", "sum(delivered_events)"), **SEND_DIMS
    ),
    "click_rate": OnTheMarts(
        SENDS, ratio("count(case when is_clicked then 1 end)", "sum(delivered_events)"), **SEND_DIMS
    ),
    "bounce_rate": OnTheMarts(SENDS, ratio("sum(bounce_events)", "sum(sent_events)"), **SEND_DIMS),
    "campaign_budget_usd": OnTheMarts(
        "marts.fct_campaign_performance",
        "sum(case when budget_usd > 0 then budget_usd end)",
        by="campaign__campaign_status",
        dim="campaign_status",
        day="started_on",
    ),
    # Revenue counts on the order's day and budget on the campaign's start: per campaign and in
    # total only (see the metric's description).
    "return_on_campaign_budget": OnTheMarts(
        """(select campaign_id, net_revenue_usd, null as budget_usd
            from marts.fct_orders where is_valid_order and campaign_id is not null
            union all
            select campaign_id, null, case when budget_usd > 0 then budget_usd end
            from marts.fct_campaign_performance) as revenue_and_budget""",
        ratio("sum(net_revenue_usd)", "sum(budget_usd)"),
        by="campaign",
        dim="campaign_id",
        day=None,
    ),
    "products_low_stock": OnTheMarts(
        "marts.dim_products",
        "sum(case when is_active and quantity_on_hand between 1 and 10 then 1 else 0 end)",
        **STOCK_DIMS,
    ),
    "price_changes": OnTheMarts(
        "marts.dim_product_price_history",
        "sum(case when previous_list_price is not null and list_price <> previous_list_price"
        " then 1 else 0 end)",
        by="product",
        dim="product_id",
        day="cast(valid_from as date)",
    ),
    "net_revenue_in_order_currency": OnTheMarts(
        VALID_ORDERS,
        "sum(subtotal - discount_amount)",
        by="order__currency",
        dim="currency",
        day="order_date",
    ),
    "customers": OnTheMarts(
        "marts.dim_customers", "count(*)", **{**CUSTOMER_DIMS, "day": "cast(created_at as date)"}
    ),
    # Ordering customers (on their orders' days) minus new customers (on their first's).
    "returning_customers": OnTheMarts(
        """(select order_date as day, customer_id, 'ordering' as kind
            from marts.fct_orders where is_valid_order
            union all
            select cast(first_order_at as date), customer_id,
                   case when first_order_at is not null then 'new' end
            from marts.dim_customers) as customer_days""",
        "count(distinct case when kind = 'ordering' then customer_id end)"
        " - count(case when kind = 'new' then 1 end)",
        by=None,
        dim=None,
        day="day",
    ),
    "stock_on_hand": OnTheMarts("marts.dim_products", "sum(quantity_on_hand)", **STOCK_DIMS),
    "stock_available": OnTheMarts("marts.dim_products", "sum(quantity_available)", **STOCK_DIMS),
    "products_out_of_stock": OnTheMarts(
        "marts.dim_products",
        "sum(case when is_active and not is_in_stock then 1 else 0 end)",
        **STOCK_DIMS,
    ),
}


# The variant portal has no campaigns (world/variant.py): nothing is attributed, nothing budgeted.
NO_CAMPAIGNS_IN_THE_VARIANT = {
    "attributed_orders",
    "attributed_revenue_usd",
    "campaign_budget_usd",
    "return_on_campaign_budget",
}


@pytest.fixture(params=["default", "variant"])
def world(request: pytest.FixtureRequest) -> BuiltWorld:
    name = "built_warehouse" if request.param == "default" else "built_variant_warehouse"
    return request.getfixturevalue(name)


@pytest.fixture
def warehouse(world: BuiltWorld) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(world.dbt.warehouse, read_only=True) as con:
        yield con


@pytest.fixture
def layer(world: BuiltWorld) -> SemanticLayer:
    return SemanticLayer.from_target(world.dbt.target_dir)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def day_of(value: Any) -> Any:
    return value.date() if isinstance(value, datetime) else value


def ask(
    layer: SemanticLayer,
    con: duckdb.DuckDBPyConnection,
    metric: str,
    group_by: list[str],
    where: list[str] | None = None,
) -> dict[tuple[Any, ...], Any]:
    rows = layer.query(con, [metric], group_by, where or [])
    return {tuple(day_of(r[g.lower()]) for g in group_by): r[metric] for r in rows}


def assert_same(actual: dict[tuple[Any, ...], Any], expected: dict[tuple[Any, ...], Any]) -> None:
    assert actual.keys() == expected.keys(), (
        sorted(actual.keys() - expected.keys(), key=str)[:5],
        sorted(expected.keys() - actual.keys(), key=str)[:5],
    )
    wrong = {k: (actual[k], v) for k, v in expected.items() if not same(actual[k], v)}
    assert not wrong, dict(list(wrong.items())[:5])


def ratio_metrics(layer: SemanticLayer) -> set[str]:
    return {m.name for m in layer.lookup.semantic_manifest.metrics if m.type_params.numerator}


# Metrics over a moving window of days: asked per day only (test_moving_window_metrics_...).
WINDOWED = {
    "valid_orders_trailing_7_days": ("count(*)", 0, 6),
    "net_revenue_usd_trailing_7_days": ("sum(net_revenue_usd)", 0, 6),
    "valid_orders_7_day_average": ("count(*) / 7", 1, 7),
    "net_revenue_usd_7_day_average": ("sum(net_revenue_usd) / 7", 1, 7),
    "average_order_value_usd_previous_7_days": (ratio("sum(net_revenue_usd)", "count(*)"), 1, 7),
}


def test_every_metric_is_checked_here(world: BuiltWorld) -> None:
    # The metrics the project declares (MetricFlow adds proxies of its own for some measures).
    manifest = json.loads((world.dbt.target_dir / "manifest.json").read_text())
    declared = {m["name"] for m in manifest["metrics"].values()}
    assert declared == set(MARTS) | set(WINDOWED)
    assert not set(MARTS) & set(WINDOWED)


@pytest.mark.parametrize("metric", sorted(WINDOWED))
def test_moving_window_metrics_sum_the_days_they_name(
    metric: str, layer: SemanticLayer, warehouse: duckdb.DuckDBPyConnection
) -> None:
    value, first, last = WINDOWED[metric]
    (latest,) = warehouse.execute(
        "select max(order_date) from marts.fct_orders where is_valid_order"
    ).fetchone() or (None,)
    assert latest is not None
    rows = layer.query(
        warehouse,
        [metric],
        ["metric_time__day"],
        where=[
            "{{ TimeDimension('metric_time', 'day') }} between "
            f"cast('{latest}' as date) - interval 30 day and cast('{latest}' as date)"
        ],
    )
    actual = {day_of(r["metric_time__day"]): r[metric] for r in rows}
    assert len(actual) == 31
    for day, got in actual.items():
        (expected,) = warehouse.execute(
            f"select {value} from marts.fct_orders where is_valid_order "
            f"and order_date between cast(? as date) - interval {last} day "
            f"and cast(? as date) - interval {first} day",
            [day, day],
        ).fetchone() or (None,)
        if expected is None and not metric.startswith("average"):
            expected = 0
        assert same(got, expected), (day, got, expected)


@pytest.mark.parametrize("metric", sorted(MARTS))
def test_each_metric_per_day_and_dimension_and_in_total_equals_the_marts(
    metric: str, world: BuiltWorld, layer: SemanticLayer, warehouse: duckdb.DuckDBPyConnection
) -> None:
    spec = MARTS[metric]
    group_by = [g for g in ("metric_time__day" if spec.day else None, spec.by) if g]
    columns = [c for c in (spec.day, spec.dim) if c]
    grouped = warehouse.execute(
        f"select {', '.join(columns)}, {spec.value} from {spec.relation} "
        f"group by {', '.join(str(i + 1) for i in range(len(columns)))}"
    ).fetchall()
    expected = {tuple(r[:-1]): r[-1] for r in grouped}
    actual = ask(layer, warehouse, metric, group_by)
    assert expected or (world.manifest.variant and metric in NO_CAMPAIGNS_IN_THE_VARIANT), metric
    assert_same(actual, expected)
    (total,) = warehouse.execute(f"select {spec.value} from {spec.relation}").fetchone() or (None,)
    if total is None and metric not in ratio_metrics(layer):
        total = 0  # the simple metrics say 0 where there is nothing (fill_nulls_with)
    assert_same(ask(layer, warehouse, metric, []), {(): total})


def test_revenue_metrics_equal_the_figures_from_the_shop(
    world: BuiltWorld, layer: SemanticLayer, warehouse: duckdb.DuckDBPyConnection
) -> None:
    expected = source_figures.revenue_per_day_and_channel(world)
    assert len(expected) > 100
    by = ["metric_time__day", "order__channel"]
    rows = layer.query(
        warehouse,
        ["valid_orders", "net_revenue_usd", "discount_usd", "average_order_value_usd"],
        by,
    )
    actual = {
        (day_of(r["metric_time__day"]), r["order__channel"]): (
            r["valid_orders"],
            r["net_revenue_usd"],
            r["discount_usd"],
        )
        for r in rows
    }
    assert actual == expected
    for r in rows:
        orders, net, _ = expected[(day_of(r["metric_time__day"]), r["order__channel"])]
        assert same(r["average_order_value_usd"], float(net / orders))
    ((total,),) = [tuple(r.values()) for r in layer.query(warehouse, ["net_revenue_usd"])]
    assert total == sum((v[1] for v in expected.values()), Decimal(0))


def test_campaign_metrics_equal_the_figures_from_hubspot_and_the_shop(
    world: BuiltWorld, layer: SemanticLayer, warehouse: duckdb.DuckDBPyConnection
) -> None:
    expected = source_figures.campaigns(world)
    metrics = ["emails_sent", "emails_delivered", "unique_opens", "unique_clicks"]
    emails = {
        r["campaign"]: tuple(r[m] for m in metrics)
        for r in layer.query(warehouse, metrics, ["campaign"])
        if r["campaign"] is not None  # events whose send belongs to no campaign
    }
    assert emails.keys() <= expected.keys()
    assert {c: emails.get(c, (0, 0, 0, 0)) for c in expected} == {
        c: v[:4] for c, v in expected.items()
    }
    attributed = {
        r["campaign"]: (r["attributed_orders"], r["attributed_revenue_usd"])
        for r in layer.query(
            warehouse, ["attributed_orders", "attributed_revenue_usd"], ["campaign"]
        )
    }
    assert {c: attributed.get(c, (0, Decimal("0.00"))) for c in expected} == {
        c: v[4:] for c, v in expected.items()
    }
    if not world.manifest.variant:  # the variant portal has no campaigns at all
        assert sum(v[2] for v in emails.values()) > 0 and attributed


def test_customer_metrics_equal_the_figures_from_the_shop(
    world: BuiltWorld, layer: SemanticLayer, warehouse: duckdb.DuckDBPyConnection
) -> None:
    customers = source_figures.customers(world).values()
    new = Counter(first for _, orders, _, first in customers if first is not None)
    repeat = Counter(first for _, orders, _, first in customers if orders >= 2)
    rows = layer.query(warehouse, ["new_customers", "repeat_customers"], ["metric_time__day"])
    by_day = {day_of(r["metric_time__day"]): r for r in rows if r["metric_time__day"] is not None}
    assert {d: r["new_customers"] for d, r in by_day.items() if r["new_customers"]} == dict(new)
    assert {d: r["repeat_customers"] for d, r in by_day.items() if r["repeat_customers"]} == dict(
        repeat
    )
    assert sum(new.values()) > 100 and sum(repeat.values()) > 0


def test_stock_on_hand_equals_the_catalog(
    world: BuiltWorld, layer: SemanticLayer, warehouse: duckdb.DuckDBPyConnection
) -> None:
    expected = source_figures.stock_on_hand(world)
    actual = {
        r["product"]: r["stock_on_hand"]
        for r in layer.query(warehouse, ["stock_on_hand"], ["product"])
    }
    assert actual == expected


@pytest.mark.parametrize(
    ("metric", "numerator", "denominator"),
    [
        ("average_order_value_usd", "net_revenue_usd", "valid_orders"),
        ("open_rate", "unique_opens", "emails_delivered"),
        ("quarantined_order_line_share", "quarantined_order_lines", "order_lines"),
    ],
)
def test_ratio_metrics_re_aggregate_as_a_ratio_of_sums_never_a_mean_of_ratios(
    metric: str,
    numerator: str,
    denominator: str,
    world: BuiltWorld,
    layer: SemanticLayer,
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    weekly = layer.query(warehouse, [metric, numerator, denominator], ["metric_time__week"])
    daily = layer.query(warehouse, [metric], ["metric_time__week", "metric_time__day"])
    daily_values: dict[date, list[float]] = defaultdict(list)
    for r in daily:
        if r[metric] is not None:
            daily_values[day_of(r["metric_time__week"])].append(r[metric])
    differs = 0
    for r in weekly:
        if not r[denominator]:
            continue
        assert same(r[metric], float(r[numerator]) / float(r[denominator])), r
        days = daily_values[day_of(r["metric_time__week"])]
        differs += len(days) > 1 and not same(r[metric], sum(days) / len(days))
    if not (world.manifest.variant and metric == "open_rate"):  # no campaigns in the variant
        assert differs, f"{metric}: no week where the mean of daily values differs"
