"""The semantic layer against two other answers, on the default and the variant world:

- the marts, through plain SQL: each metric per day and its main dimension and in total;
- the source systems, through the independent check (tests/fixtures/source_figures.py), for the
  metrics docs/spec.md §3 defines on them.

MetricFlow's answers come through reports.metrics, the way every consumer asks it.
"""

from __future__ import annotations

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
from tests.metrics.on_the_marts import MARTS, ratio

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]

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
