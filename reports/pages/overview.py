"""The overview: yesterday's orders and revenue, and whether every source and the marts are fresh."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..html import (
    NONE,
    Kpi,
    Kpis,
    Page,
    Section,
    Table,
    count,
    money,
    number,
)
from ..source import NoData, Source, last_loads_sql, sources_freshness
from .common import guarded, nonempty, on_day


def kpis(src: Source, now: datetime) -> Section:
    yesterday = now.date() - timedelta(days=1)
    # A metric over a moving window joins every day to its window before the filter: one
    # such metric per query (together, MetricFlow joins the windows to each other too,
    # 40x slower at 2M orders).
    r: dict[str, Any] = {}
    for metrics in (
        ["valid_orders", "net_revenue_usd", "average_order_value_usd"],
        ["valid_orders_7_day_average"],
        ["net_revenue_usd_7_day_average"],
        ["average_order_value_usd_previous_7_days"],
    ):
        rows = src.metrics(metrics, ["metric_time__day"], where=[on_day(yesterday)])
        r.update(rows[0] if rows else dict.fromkeys(metrics))
    nonempty([v for v in r.values() if v is not None], f"no orders on or before {yesterday}")
    return Kpis(
        f"Yesterday ({yesterday:%a %d %b %Y}) against the previous 7 days",
        [
            Kpi(
                "overview.valid_orders",
                "Valid orders",
                count(r["valid_orders"]),
                f"previous 7 days: {number(r['valid_orders_7_day_average'])} a day",
            ),
            Kpi(
                "overview.net_revenue_usd",
                "Net revenue",
                money(r["net_revenue_usd"]),
                f"previous 7 days: {money(r['net_revenue_usd_7_day_average'])} a day",
            ),
            Kpi(
                "overview.average_order_value_usd",
                "Average order value",
                money(r["average_order_value_usd"]),
                f"previous 7 days: {money(r['average_order_value_usd_previous_7_days'])}",
            ),
        ],
    )


def freshness(src: Source, now: datetime) -> Section:
    last = {r["source_name"]: r["last_load"] for r in src.sql(last_loads_sql(src.audit_schema))}
    table = [
        [
            f.source,
            NONE if f.last_load is None else f"{f.last_load:%Y-%m-%d %H:%M} UTC",
            number(f.hours),
            number(f.warn_after, 0),
            number(f.error_after, 0),
            f.state,
        ]
        for f in sources_freshness(src.manifest, last, now)
    ]
    return Table(
        "overview.freshness",
        "Sources: freshness against their thresholds",
        [
            "source",
            "last successful load",
            "age (h)",
            "warn after (h)",
            "error after (h)",
            "state",
        ],
        nonempty(table, "no source loaded yet"),
        numeric=(2, 3, 4),
        caption="Thresholds: each source's dbt freshness; loads: loader_audit.load_runs.",
    )


def marts(src: Source, now: datetime) -> Section:
    held = src.marts_as_of()
    newest = src.freshest_load()
    if held is None:
        raise NoData("no dbt build recorded yet")
    behind = newest is not None and newest > held
    return Table(
        "overview.marts",
        "Marts: the loads they hold",
        ["hold every load ended before", "age (h)", "newest load", "state"],
        [
            [
                f"{held:%Y-%m-%d %H:%M} UTC",
                number((now - held).total_seconds() / 3600),
                NONE if newest is None else f"{newest:%Y-%m-%d %H:%M} UTC",
                "behind: a build is due" if behind else "up to date",
            ]
        ],
        numeric=(1,),
        caption=(
            "The marts' age: since the start of the last build that brought them up to "
            "date (loader_audit.dbt_node_marks; a plain dbt build: dbt_audit.runs)."
        ),
    )


def page(src: Source, now: datetime) -> Page:
    return Page(
        "index",
        "Overview",
        "Yesterday's orders and revenue, and whether every source and the marts are fresh.",
        [
            guarded("Yesterday", kpis, src, now),
            guarded("Sources", freshness, src, now),
            guarded("Marts", marts, src, now),
        ],
    )
