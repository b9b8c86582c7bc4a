"""Revenue: net revenue of valid orders by day, channel and currency."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from ..html import (
    Chart,
    Page,
    Section,
    Table,
    count,
    layout,
    money,
)
from ..source import Source
from .common import day_text, guarded, nonempty, since_day


def daily(src: Source, now: datetime) -> Section:
    since = now.date() - timedelta(days=90)
    rows = nonempty(
        src.metrics(
            ["net_revenue_usd"],
            ["metric_time__day", "order__channel"],
            where=[since_day(since)],
            order_by=["metric_time__day"],
        ),
        "no valid orders in the last 90 days",
    )
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_channel[r["order__channel"] or "unknown"].append(r)
    data = [
        {
            "type": "bar",
            "name": channel,
            "x": [day_text(r["metric_time__day"]) for r in points],
            "y": [float(r["net_revenue_usd"]) for r in points],
            "hovertemplate": "%{x}<br>" + channel + ": $%{y:,.2f}<extra></extra>",
        }
        for channel, points in sorted(by_channel.items())
    ]
    return Chart(
        "revenue.daily_by_channel",
        f"Daily net revenue by channel, since {since:%d %b %Y}",
        data,
        layout(barmode="stack", yaxis={"tickformat": "$,.0f"}, xaxis={"type": "date"}),
    )


def by_currency(src: Source, now: datetime) -> Section:
    rows = nonempty(
        src.metrics(
            ["valid_orders", "net_revenue_in_order_currency", "net_revenue_usd"],
            ["order__currency"],
            order_by=["-net_revenue_usd"],
        ),
        "no valid orders yet",
    )
    return Table(
        "revenue.by_currency",
        "Net revenue by currency, before and after conversion (all time)",
        ["currency", "valid orders", "net revenue in the currency", "net revenue (USD)"],
        [
            [
                r["order__currency"],
                count(r["valid_orders"]),
                money(r["net_revenue_in_order_currency"], r["order__currency"]),
                money(r["net_revenue_usd"]),
            ]
            for r in rows
        ],
        numeric=(1, 2, 3),
        caption="Rates: seed fx_rates (US dollars per unit).",
    )


def monthly(src: Source, now: datetime) -> Section:
    rows = nonempty(
        src.metrics(
            ["net_revenue_usd", "valid_orders", "average_order_value_usd"],
            ["metric_time__month"],
            where=[since_day(now.date().replace(day=1) - timedelta(days=365))],
            order_by=["metric_time__month"],
        ),
        "no valid orders in the last year",
    )
    x = [day_text(r["metric_time__month"])[:7] for r in rows]
    return Chart(
        "revenue.monthly",
        "Monthly net revenue and average order value",
        [
            {
                "type": "bar",
                "name": "net revenue",
                "x": x,
                "y": [float(r["net_revenue_usd"]) for r in rows],
                "hovertemplate": "%{x}: $%{y:,.0f}<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "average order value",
                "x": x,
                "y": [float(r["average_order_value_usd"] or 0) for r in rows],
                "yaxis": "y2",
                "hovertemplate": "%{x}: $%{y:,.2f}<extra></extra>",
            },
        ],
        layout(
            margin={"r": 80},
            yaxis={"tickformat": "$,.0f", "title": {"text": "net revenue"}},
            yaxis2={
                "overlaying": "y",
                "side": "right",
                "tickformat": "$,.0f",
                "title": {"text": "average order value"},
                "showgrid": False,
            },
        ),
    )


def page(src: Source, now: datetime) -> Page:
    return Page(
        "revenue",
        "Revenue",
        "Net revenue of valid orders (merchandise after discounts, in US dollars) by channel and currency.",
        [
            guarded("Daily net revenue by channel", daily, src, now),
            guarded("Monthly", monthly, src, now),
            guarded("By currency", by_currency, src, now),
        ],
    )
