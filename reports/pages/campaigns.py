"""Campaigns: HubSpot marketing emails from send to click, and the orders they brought."""

from __future__ import annotations

from datetime import datetime

from ..html import (
    NONE,
    Chart,
    Page,
    Section,
    Table,
    count,
    layout,
    money,
)
from ..html import percent as pct
from ..source import Source
from .common import guarded, nonempty


def funnel(src: Source, now: datetime) -> Section:
    funnel_metrics = ["emails_sent", "emails_delivered", "unique_opens", "unique_clicks"]
    rows = nonempty(
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


def returns(src: Source, now: datetime) -> Section:
    rows = nonempty(
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


def page(src: Source, now: datetime) -> Page:
    return Page(
        "campaigns",
        "Campaigns",
        "HubSpot marketing emails from send to click, and the valid orders they brought.",
        [guarded("Email funnel", funnel, src, now), guarded("Return on budget", returns, src, now)],
    )
