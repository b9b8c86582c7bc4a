"""The seven pages and what each shows. Business figures are metrics of the semantic layer
(Source.metrics); pipeline and quality figures are one query each on an audit or data-quality
table (Source.sql). Python only lays them out: it never recomputes a figure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from .html import (
    NONE,
    Chart,
    Empty,
    Kpi,
    Kpis,
    Page,
    Section,
    Table,
    count,
    layout,
    money,
    number,
    time_axis,
)
from .html import percent as pct
from .source import NoData, Source, last_loads_sql, sources_freshness

Builder = Callable[[], Section]
T = TypeVar("T")


def guarded(title: str, build: Builder) -> Section:
    """A section, or "no data yet" when the warehouse does not hold what it needs."""
    try:
        return build()
    except NoData as exc:
        return Empty(title, str(exc))


def _day(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)


def _on_day(day: date) -> str:
    return f"{{{{ TimeDimension('metric_time', 'day') }}}} = cast('{day.isoformat()}' as date)"


def _since(day: date) -> str:
    return f"{{{{ TimeDimension('metric_time', 'day') }}}} >= cast('{day.isoformat()}' as date)"


def _nonempty(rows: list[T], what: str) -> list[T]:
    if not rows:
        raise NoData(what)
    return rows


# ---------------------------------------------------------------------------------- overview


def overview(src: Source, now: datetime) -> Page:
    yesterday = now.date() - timedelta(days=1)

    def kpis() -> Section:
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
            rows = src.metrics(metrics, ["metric_time__day"], where=[_on_day(yesterday)])
            r.update(rows[0] if rows else dict.fromkeys(metrics))
        _nonempty([v for v in r.values() if v is not None], f"no orders on or before {yesterday}")
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

    def freshness() -> Section:
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
            _nonempty(table, "no source loaded yet"),
            numeric=(2, 3, 4),
            caption="Thresholds: each source's dbt freshness; loads: loader_audit.load_runs.",
        )

    def marts() -> Section:
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

    return Page(
        "index",
        "Overview",
        "Yesterday's orders and revenue, and whether every source and the marts are fresh.",
        [guarded("Yesterday", kpis), guarded("Sources", freshness), guarded("Marts", marts)],
    )


# ----------------------------------------------------------------------------------- revenue


def revenue(src: Source, now: datetime) -> Page:
    since = now.date() - timedelta(days=90)

    def daily() -> Section:
        rows = _nonempty(
            src.metrics(
                ["net_revenue_usd"],
                ["metric_time__day", "order__channel"],
                where=[_since(since)],
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
                "x": [_day(r["metric_time__day"]) for r in points],
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

    def by_currency() -> Section:
        rows = _nonempty(
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

    def monthly() -> Section:
        rows = _nonempty(
            src.metrics(
                ["net_revenue_usd", "valid_orders", "average_order_value_usd"],
                ["metric_time__month"],
                where=[_since(now.date().replace(day=1) - timedelta(days=365))],
                order_by=["metric_time__month"],
            ),
            "no valid orders in the last year",
        )
        x = [_day(r["metric_time__month"])[:7] for r in rows]
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

    return Page(
        "revenue",
        "Revenue",
        "Net revenue of valid orders (merchandise after discounts, in US dollars) by channel and currency.",
        [
            guarded("Daily net revenue by channel", daily),
            guarded("Monthly", monthly),
            guarded("By currency", by_currency),
        ],
    )


# --------------------------------------------------------------------------------- customers


def customers(src: Source, now: datetime) -> Page:
    def segments() -> Section:
        rows = _nonempty(
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

    def new_and_returning() -> Section:
        rows = _nonempty(
            src.metrics(
                ["new_customers", "returning_customers"],
                ["metric_time__month"],
                where=[_since(now.date().replace(day=1) - timedelta(days=365))],
                order_by=["metric_time__month"],
            ),
            "no valid orders in the last year",
        )
        x = [_day(r["metric_time__month"])[:7] for r in rows]
        return Chart(
            "customers.new_and_returning",
            "New and returning customers per month",
            [
                {"type": "bar", "name": name, "x": x, "y": [int(r[key] or 0) for r in rows]}
                for key, name in (("new_customers", "new"), ("returning_customers", "returning"))
            ],
            layout(barmode="stack", yaxis={"tickformat": ",d"}),
        )

    def countries() -> Section:
        rows = _nonempty(
            src.metrics(
                ["customers"], ["customer__country_name"], order_by=["-customers"], limit=10
            ),
            "no customers yet",
        )
        revenue = {
            r["customer__country_name"]: r
            for r in src.metrics(
                ["net_revenue_usd", "ordering_customers"], ["customer__country_name"]
            )
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

    return Page(
        "customers",
        "Customers",
        "Who buys: segments, new against returning customers, and where they are.",
        [
            guarded("Customers by segment", segments),
            guarded("New and returning customers", new_and_returning),
            guarded("Countries", countries),
        ],
    )


# --------------------------------------------------------------------------------- campaigns


def campaigns(src: Source, now: datetime) -> Page:
    funnel_metrics = ["emails_sent", "emails_delivered", "unique_opens", "unique_clicks"]

    def funnel() -> Section:
        rows = _nonempty(
            src.metrics(
                [*funnel_metrics, "open_rate", "click_rate"],
                ["campaign__campaign_name"],
                where=["{{ Entity('campaign') }} is not null"],
                order_by=["-emails_sent"],
                limit=12,
            ),
            "no campaign emails yet",
        )
        names = [r["campaign__campaign_name"] for r in rows]
        return Chart(
            "campaigns.funnel",
            "Email funnel per campaign: sent, delivered, opened, clicked",
            [
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": metric.replace("emails_", "").replace("unique_", "unique "),
                    "y": names,
                    "x": [int(r[metric] or 0) for r in rows],
                    "hovertemplate": "%{y}: %{x:,}<extra></extra>",
                }
                for metric in funnel_metrics
            ],
            layout(
                barmode="group",
                height=max(360, 60 * len(rows)),
                yaxis={"autorange": "reversed"},
                xaxis={"tickformat": ",d"},
            ),
        )

    def returns() -> Section:
        rows = _nonempty(
            src.metrics(
                [
                    "emails_sent",
                    "open_rate",
                    "click_rate",
                    "attributed_orders",
                    "attributed_revenue_usd",
                    "campaign_budget_usd",
                    "return_on_campaign_budget",
                ],
                ["campaign__campaign_name"],
                where=["{{ Entity('campaign') }} is not null"],
                order_by=["-attributed_revenue_usd"],
            ),
            "no campaigns yet",
        )
        return Table(
            "campaigns.returns",
            "Attributed revenue and return on budget per campaign",
            [
                "campaign",
                "emails sent",
                "open rate",
                "click rate",
                "attributed orders",
                "attributed revenue",
                "budget (USD)",
                "return on budget",
            ],
            [
                [
                    r["campaign__campaign_name"],
                    count(r["emails_sent"]),
                    pct(r["open_rate"]),
                    pct(r["click_rate"]),
                    count(r["attributed_orders"]),
                    money(r["attributed_revenue_usd"]),
                    money(r["campaign_budget_usd"]),
                    NONE
                    if r["return_on_campaign_budget"] is None
                    else f"{float(r['return_on_campaign_budget']):,.2f}x",
                ]
                for r in rows
            ],
            numeric=(1, 2, 3, 4, 5, 6, 7),
            caption="Rates per delivered email; an order belongs to the campaign its utm_campaign names.",
        )

    return Page(
        "campaigns",
        "Campaigns",
        "HubSpot marketing emails from send to click, and the valid orders they brought.",
        [guarded("Email funnel", funnel), guarded("Return on budget", returns)],
    )


# ---------------------------------------------------------------------------------- products


def products(src: Source, now: datetime) -> Page:
    def kpis() -> Section:
        r = _nonempty(
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

    def shortages() -> Section:
        rows = _nonempty(
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

    def by_category() -> Section:
        rows = _nonempty(
            src.metrics(
                ["stock_on_hand"], ["product__top_category_name"], order_by=["-stock_on_hand"]
            ),
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

    def price_changes() -> Section:
        rows = _nonempty(
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
                    _day(r["metric_time__day"]),
                    r["product__sku"],
                    r["product__product_name"],
                    money(r["product_price_version__previous_list_price"]),
                    money(r["product_price_version__list_price"]),
                ]
                for r in rows
            ],
            numeric=(3, 4),
        )

    return Page(
        "products",
        "Products and stock",
        "What is out of stock or running low, and how prices changed.",
        [
            guarded("Stock", kpis),
            guarded("Shortages", shortages),
            guarded("Stock by category", by_category),
            guarded("Price changes", price_changes),
        ],
    )


# ------------------------------------------------------------------------------ data quality


def data_quality(src: Source, now: datetime) -> Page:
    def latest() -> Section:
        rows = _nonempty(
            src.sql(
                f"select rule_name, source_name, table_name, action, severity, rows_checked, "
                f"rows_failing, failure_rate, max_failure_rate "
                f"from {src.relation('dq_rule_results')} order by source_name, rule_name"
            ),
            "no build has checked the rules yet",
        )
        return Table(
            "dq.latest",
            "Every rule at the last build against its tolerance",
            [
                "rule",
                "source.table",
                "action",
                "severity",
                "checked",
                "failing",
                "rate",
                "tolerated",
                "state",
            ],
            [
                [
                    r["rule_name"],
                    f"{r['source_name']}.{r['table_name']}",
                    r["action"],
                    r["severity"],
                    count(r["rows_checked"]),
                    count(r["rows_failing"]),
                    pct(r["failure_rate"], 2),
                    pct(r["max_failure_rate"], 2),
                    "over tolerance" if r["failure_rate"] > r["max_failure_rate"] else "ok",
                ]
                for r in rows
            ],
            numeric=(4, 5, 6, 7),
            caption="Rules: macro dq_rules; figures: data_quality.dq_rule_results.",
        )

    def trend() -> Section:
        rows = _nonempty(
            src.sql(
                f"select history.rule_name, history.checked_at, history.failure_rate, "
                f"rules.max_failure_rate "
                f"from {src.relation('dq_rule_history')} as history "
                f"inner join {src.relation('dq_rules')} as rules "
                f"on history.rule_name = rules.rule_name "
                f"where history.rule_name in (select rule_name from "
                f"{src.relation('dq_rule_history')} where rows_failing > 0) "
                f"order by history.rule_name, history.checked_at"
            ),
            "no rule has failed at any build",
        )
        by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            by_rule[r["rule_name"]].append(r)
        data: list[dict[str, Any]] = []
        for i, (rule, points) in enumerate(sorted(by_rule.items())):
            color = [
                "#0072B2",
                "#E69F00",
                "#009E73",
                "#CC79A7",
                "#56B4E9",
                "#D55E00",
                "#000000",
            ][i % 7]
            dash = ["solid", "dot", "dash", "longdash"][(i // 7) % 4]
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": rule,
                    "legendgroup": rule,
                    "x": [str(r["checked_at"]) for r in points],
                    "y": [float(r["failure_rate"]) for r in points],
                    "line": {"color": color, "dash": dash},
                    "hovertemplate": rule + ": %{y:.2%}<extra></extra>",
                }
            )
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"{rule} tolerance",
                    "legendgroup": rule,
                    "showlegend": False,
                    "x": [str(r["checked_at"]) for r in points],
                    "y": [float(r["max_failure_rate"]) for r in points],
                    "line": {"color": color, "dash": "dot", "width": 1},
                    "hovertemplate": rule + " tolerated: %{y:.2%}<extra></extra>",
                }
            )
        return Chart(
            "dq.trend",
            "Failure rate at every build, for the rules that ever failed (thin dotted: tolerance)",
            data,
            layout(yaxis={"tickformat": ".1%"}, height=460),
        )

    def quarantine() -> Section:
        rows = _nonempty(
            src.sql(
                f"select source_name, rule_name, action, count(*) as records "
                f"from {src.relation('dq_issues')} group by 1, 2, 3 order by 1, 4 desc"
            ),
            "the quarantine is empty",
        )
        by_source: dict[str, dict[str, int]] = defaultdict(dict)
        for r in rows:
            by_source[r["source_name"]][r["rule_name"]] = int(r["records"])
        rules = sorted({r["rule_name"] for r in rows})
        return Chart(
            "dq.quarantine",
            "The quarantine by reason (rule) and source",
            [
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": source,
                    "y": rules,
                    "x": [by_source[source].get(rule, 0) for rule in rules],
                    "hovertemplate": source + ", %{y}: %{x:,} records<extra></extra>",
                }
                for source in sorted(by_source)
            ],
            layout(
                barmode="stack",
                xaxis={"tickformat": ",d"},
                yaxis={"autorange": "reversed"},
                height=max(320, 28 * len(rules) + 120),
            ),
        )

    def quarantined_lines() -> Section:
        rows = _nonempty(
            src.metrics(
                ["quarantined_order_line_share", "quarantined_order_lines", "order_lines"],
                ["metric_time__month"],
                where=[_since(now.date().replace(day=1) - timedelta(days=365))],
                order_by=["metric_time__month"],
            ),
            "no order lines in the last year",
        )
        return Chart(
            "dq.quarantined_lines",
            "Share of order lines quarantined, by the month of their order",
            [
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "x": [_day(r["metric_time__month"])[:7] for r in rows],
                    "y": [float(r["quarantined_order_line_share"] or 0) for r in rows],
                    "customdata": [
                        [int(r["quarantined_order_lines"] or 0), int(r["order_lines"] or 0)]
                        for r in rows
                    ],
                    "line": {"color": "#D55E00"},
                    "hovertemplate": "%{x}: %{y:.2%} (%{customdata[0]:,} of %{customdata[1]:,} "
                    "lines)<extra></extra>",
                }
            ],
            layout(yaxis={"tickformat": ".1%", "rangemode": "tozero"}),
        )

    return Page(
        "data-quality",
        "Data quality",
        "Each rule of macros/data_quality.sql at every build, and what sits in the quarantine.",
        [
            guarded("Rules now", latest),
            guarded("Rules over time", trend),
            guarded("Quarantine", quarantine),
            guarded("Quarantined order lines", quarantined_lines),
        ],
    )


# --------------------------------------------------------------------------- pipeline health


def pipeline(src: Source, now: datetime) -> Page:
    runs = f"{src.audit_schema}.load_runs"

    def throughput() -> Section:
        rows = _nonempty(
            src.sql(
                f"select source_name, table_name, run_started_at, rows_loaded, seconds, "
                f"rows_per_second from {runs} where status = 'ok' "
                f"order by source_name, table_name, run_started_at"
            ),
            "no successful load yet",
        )
        by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            by_table[f"{r['source_name']}.{r['table_name']}"].append(r)
        return Chart(
            "pipeline.throughput",
            "Rows per second per table, at every load",
            [
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": table,
                    "x": [str(r["run_started_at"]) for r in points],
                    "y": [float(r["rows_per_second"] or 0) for r in points],
                    "customdata": [
                        [int(r["rows_loaded"] or 0), float(r["seconds"] or 0)] for r in points
                    ],
                    "hovertemplate": table
                    + ": %{y:,.0f} rows/s<br>%{customdata[0]:,} rows in %{customdata[1]:.1f} s<extra></extra>",
                }
                for table, points in sorted(by_table.items())
            ],
            layout(
                yaxis={"tickformat": ",.0f", "type": "log"},
                xaxis=time_axis([r["run_started_at"] for r in rows]),
                height=420,
            ),
        )

    def last_runs() -> Section:
        rows = _nonempty(
            src.sql(
                f"with ranked as (select *, row_number() over (partition by source_name, "
                f"table_name order by run_started_at desc) as n from {runs}), "
                f"last_ok as (select source_name, table_name, max(run_finished_at) as at "
                f"from {runs} where status = 'ok' group by 1, 2) "
                f"select ranked.source_name, ranked.table_name, ranked.run_started_at, "
                f"ranked.load_mode, ranked.status, ranked.rows_extracted, ranked.rows_loaded, "
                f"ranked.rows_deleted, ranked.seconds, ranked.rows_per_second, last_ok.at "
                f"from ranked left join last_ok on ranked.source_name = last_ok.source_name "
                f"and ranked.table_name = last_ok.table_name where ranked.n = 1 "
                f"order by 1, 2"
            ),
            "no load yet",
        )
        return Table(
            "pipeline.last_runs",
            "The last run per source and table",
            [
                "source.table",
                "run started (UTC)",
                "mode",
                "status",
                "extracted",
                "loaded",
                "deleted",
                "seconds",
                "rows/s",
                "last successful load (UTC)",
            ],
            [
                [
                    f"{r['source_name']}.{r['table_name']}",
                    _stamp(r["run_started_at"]),
                    r["load_mode"] or "",
                    r["status"],
                    count(r["rows_extracted"]),
                    count(r["rows_loaded"]),
                    count(r["rows_deleted"]),
                    number(r["seconds"]),
                    number(r["rows_per_second"], 0),
                    _stamp(r["at"]),
                ]
                for r in rows
            ],
            numeric=(4, 5, 6, 7, 8),
        )

    def streams() -> Section:
        try:
            rows = src.sql(
                f"select source_name, checked_at, stream_position, server_end, lag_bytes, "
                f"held_bytes, margin_files, lost from (select *, row_number() over (partition "
                f"by source_name order by checked_at desc) as n "
                f"from {src.audit_schema}.stream_positions) s where n = 1 order by 1"
            )
        except NoData:  # no load has read a stream: the table is made by the first that does
            rows = []
        return Table(
            "pipeline.streams",
            "Change streams: where each source's stream stood at its last load",
            [
                "source",
                "last load (UTC)",
                "stored position",
                "server's end",
                "lag (bytes)",
                "WAL held (MB)",
                "binlogs before it",
                "lost",
            ],
            [
                [
                    r["source_name"],
                    _stamp(r["checked_at"]),
                    r["stream_position"] or NONE,
                    r["server_end"] or NONE,
                    count(r["lag_bytes"]),
                    NONE if r["held_bytes"] is None else number(r["held_bytes"] / 2**20),
                    count(r["margin_files"]),
                    r["lost"] or "",
                ]
                for r in rows
            ],
            numeric=(4, 5, 6),
            caption=(
                "The operations watch alerts when a slot holds more WAL than allowed or a "
                "binlog position is about to be purged (SHOPSPHERE_STREAM_MAX_HELD_MB, "
                "SHOPSPHERE_STREAM_MIN_MARGIN_FILES)."
                if rows
                else "No source is read from its change stream: each SQL source's server has "
                "none on, or its capture is set to cursor; their changes are found by the cursor."
            ),
        )

    def failures() -> Section:
        rows = src.sql(
            f"select run_started_at, source_name, table_name, status, error_message "
            f"from {runs} where status <> 'ok' order by run_started_at desc limit 50"
        )
        if not rows:
            return Table(
                "pipeline.failures",
                "Failed loads",
                ["run started (UTC)", "source.table", "status", "error"],
                [],
                caption="No load has failed.",
            )
        return Table(
            "pipeline.failures",
            "Failed loads (latest 50)",
            ["run started (UTC)", "source.table", "status", "error"],
            [
                [
                    _stamp(r["run_started_at"]),
                    f"{r['source_name']}.{r['table_name']}",
                    r["status"],
                    (r["error_message"] or "").splitlines()[0][:200] if r["error_message"] else "",
                ]
                for r in rows
            ],
        )

    def dbt_runs() -> Section:
        rows = _nonempty(
            src.sql(
                f"select started_at, command, target_name, seconds, nodes, errors, warnings "
                f"from {src.dbt_runs_relation()} order by started_at"
            ),
            "no dbt build recorded yet",
        )
        return Chart(
            "pipeline.dbt_runs",
            "dbt build duration per run",
            [
                {
                    "type": "bar",
                    "x": [str(r["started_at"]) for r in rows],
                    "y": [float(r["seconds"]) for r in rows],
                    "customdata": [
                        [r["command"], r["nodes"], r["errors"], r["warnings"]] for r in rows
                    ],
                    "marker": {"color": ["#D55E00" if r["errors"] else "#0072B2" for r in rows]},
                    "hovertemplate": "%{x}<br>dbt %{customdata[0]}: %{y:,.1f} s, %{customdata[1]} "
                    "nodes, %{customdata[2]} errors, %{customdata[3]} warnings<extra></extra>",
                }
            ],
            layout(
                yaxis={"title": {"text": "seconds"}},
                xaxis=time_axis([r["started_at"] for r in rows]),
            ),
        )

    return Page(
        "pipeline",
        "Pipeline health",
        "Every load per source and table, its failures, and every dbt build.",
        [
            guarded("Throughput", throughput),
            guarded("Last runs", last_runs),
            guarded("Change streams", streams),
            guarded("Failures", failures),
            guarded("dbt builds", dbt_runs),
        ],
    )


def _stamp(value: Any) -> str:
    if value is None:
        return NONE
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value)[:16]


PAGES = [overview, revenue, customers, campaigns, products, data_quality, pipeline]
