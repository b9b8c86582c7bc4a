"""Customers: segments, new against returning, and where they are."""

from __future__ import annotations

from datetime import datetime, timedelta

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


def segments(src: Source, now: datetime) -> Section:
    rows = nonempty(
        src.metrics(["customers"], ["customer__customer_segment"], order_by=["-customers"]),
        "no customers yet",
    )
    return Chart(
        "customers.segments",
        "Customers by segment",
        [
            {
                "type": "bar",
                "x": [r["customer__customer_segment"] for r in rows],
                "y": [int(r["customers"]) for r in rows],
                "text": [count(r["customers"]) for r in rows],
                "textposition": "auto",
                "marker": {"color": "#0072B2"},
                "hovertemplate": "%{x}: %{y:,}<extra></extra>",
            }
        ],
        layout(yaxis={"tickformat": ",d"}),
    )


def new_and_returning(src: Source, now: datetime) -> Section:
    rows = nonempty(
        src.metrics(
            ["new_customers", "returning_customers"],
            ["metric_time__month"],
            where=[since_day(now.date().replace(day=1) - timedelta(days=365))],
            order_by=["metric_time__month"],
        ),
        "no valid orders in the last year",
    )
    x = [day_text(r["metric_time__month"])[:7] for r in rows]
    return Chart(
        "customers.new_and_returning",
        "New and returning customers per month",
        [
            {"type": "bar", "name": name, "x": x, "y": [int(r[key] or 0) for r in rows]}
            for key, name in (("new_customers", "new"), ("returning_customers", "returning"))
        ],
        layout(barmode="stack", yaxis={"tickformat": ",d"}),
    )


def countries(src: Source, now: datetime) -> Section:
    rows = nonempty(
        src.metrics(["customers"], ["customer__country_name"], order_by=["-customers"], limit=10),
        "no customers yet",
    )
    revenue = {
        r["customer__country_name"]: r
        for r in src.metrics(["net_revenue_usd", "ordering_customers"], ["customer__country_name"])
    }
    return Table(
        "customers.countries",
        "Top 10 countries by customers",
        ["country", "customers", "customers with a valid order", "net revenue (USD)"],
        [
            [
                r["customer__country_name"] or "Unknown",
                count(r["customers"]),
                count(revenue.get(r["customer__country_name"], {}).get("ordering_customers")),
                money(revenue.get(r["customer__country_name"], {}).get("net_revenue_usd")),
            ]
            for r in rows
        ],
        numeric=(1, 2, 3),
        caption="Customers who asked to be forgotten are not counted; no personal data is shown.",
    )


def page(src: Source, now: datetime) -> Page:
    return Page(
        "customers",
        "Customers",
        "Who buys: segments, new against returning customers, and where they are.",
        [
            guarded("Customers by segment", segments, src, now),
            guarded("New and returning customers", new_and_returning, src, now),
            guarded("Countries", countries, src, now),
        ],
    )
