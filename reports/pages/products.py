"""Products and stock: what is out of stock or running low, and how prices changed."""

from __future__ import annotations

from datetime import datetime

from ..html import (
    Chart,
    Kpi,
    Kpis,
    Page,
    Section,
    Table,
    count,
    layout,
    money,
)
from ..source import Source
from .common import day_text, guarded, nonempty


def kpis(src: Source, now: datetime) -> Section:
    r = nonempty(
        src.metrics(["stock_on_hand", "products_out_of_stock", "products_low_stock"]),
        "no products yet",
    )[0]
    return Kpis(
        "Stock across all warehouses, as of the last build",
        [
            Kpi("products.stock_on_hand", "Units on hand", count(r["stock_on_hand"])),
            Kpi(
                "products.products_out_of_stock",
                "Active products out of stock",
                count(r["products_out_of_stock"]),
            ),
            Kpi(
                "products.products_low_stock",
                "Active products low on stock (1 to 10 units)",
                count(r["products_low_stock"]),
            ),
        ],
    )


def shortages(src: Source, now: datetime) -> Section:
    rows = nonempty(
        src.metrics(
            ["stock_on_hand", "stock_available"],
            [
                "product__sku",
                "product__product_name",
                "product__top_category_name",
                "product__stock_level",
            ],
            where=[
                "{{ Dimension('product__stock_level') }} <> 'ok'",
                "{{ Dimension('product__is_active') }}",
            ],
            order_by=["stock_on_hand", "product__sku"],
            limit=50,
        ),
        "no active product is out of stock or low on stock",
    )
    return Table(
        "products.shortages",
        "Active products out of stock or low on stock (up to 50, lowest first)",
        ["SKU", "product", "category", "level", "on hand", "available"],
        [
            [
                r["product__sku"],
                r["product__product_name"],
                r["product__top_category_name"],
                r["product__stock_level"],
                count(r["stock_on_hand"]),
                count(r["stock_available"]),
            ]
            for r in rows
        ],
        numeric=(4, 5),
    )


def by_category(src: Source, now: datetime) -> Section:
    rows = nonempty(
        src.metrics(["stock_on_hand"], ["product__top_category_name"], order_by=["-stock_on_hand"]),
        "no products yet",
    )
    return Chart(
        "products.stock_by_category",
        "Units on hand by top category",
        [
            {
                "type": "bar",
                "x": [r["product__top_category_name"] for r in rows],
                "y": [int(r["stock_on_hand"] or 0) for r in rows],
                "marker": {"color": "#009E73"},
                "hovertemplate": "%{x}: %{y:,}<extra></extra>",
            }
        ],
        layout(yaxis={"tickformat": ",d"}),
    )


def price_changes(src: Source, now: datetime) -> Section:
    rows = nonempty(
        src.metrics(
            ["price_changes"],
            [
                "metric_time__day",
                "product__sku",
                "product__product_name",
                "product_price_version__previous_list_price",
                "product_price_version__list_price",
            ],
            where=["{{ Dimension('product_price_version__is_price_change') }}"],
            order_by=["-metric_time__day", "product__sku"],
            limit=25,
        ),
        "no price has changed since the first snapshot",
    )
    return Table(
        "products.price_changes",
        "Latest price changes (from the snapshot of product prices)",
        ["day", "SKU", "product", "list price before", "list price after"],
        [
            [
                day_text(r["metric_time__day"]),
                r["product__sku"],
                r["product__product_name"],
                money(r["product_price_version__previous_list_price"]),
                money(r["product_price_version__list_price"]),
            ]
            for r in rows
        ],
        numeric=(3, 4),
    )


def page(src: Source, now: datetime) -> Page:
    return Page(
        "products",
        "Products and stock",
        "What is out of stock or running low, and how prices changed.",
        [
            guarded("Stock", kpis, src, now),
            guarded("Shortages", shortages, src, now),
            guarded("Stock by category", by_category, src, now),
            guarded("Price changes", price_changes, src, now),
        ],
    )
