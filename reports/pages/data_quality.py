"""Data quality: each rule at every build, and what sits in the quarantine."""

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
)
from ..html import percent as pct
from ..source import Source
from .common import day_text, guarded, nonempty, since_day


def latest(src: Source, now: datetime) -> Section:
    rows = nonempty(
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


def trend(src: Source, now: datetime) -> Section:
    rows = nonempty(
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


def quarantine(src: Source, now: datetime) -> Section:
    rows = nonempty(
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


def quarantined_lines(src: Source, now: datetime) -> Section:
    rows = nonempty(
        src.metrics(
            ["quarantined_order_line_share", "quarantined_order_lines", "order_lines"],
            ["metric_time__month"],
            where=[since_day(now.date().replace(day=1) - timedelta(days=365))],
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
                "x": [day_text(r["metric_time__month"])[:7] for r in rows],
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


def page(src: Source, now: datetime) -> Page:
    return Page(
        "data-quality",
        "Data quality",
        "Each rule of macros/data_quality/data_quality.sql at every build, and what sits in the quarantine.",
        [
            guarded("Rules now", latest, src, now),
            guarded("Rules over time", trend, src, now),
            guarded("Quarantine", quarantine, src, now),
            guarded("Quarantined order lines", quarantined_lines, src, now),
        ],
    )
