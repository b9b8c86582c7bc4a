"""The pages' HTML: a header with the navigation and the "as of" line, then sections (KPI cards,
Plotly charts, tables, or "no data yet"). Plotly's JavaScript is written once beside the pages
(assets/plotly.min.js, from the plotly package): the pages open from the file system and make no
network request."""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

# Okabe & Ito's palette: told apart with every common colour-vision deficiency.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
NONE = "\N{EN DASH}"  # a value that does not exist
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}


@dataclasses.dataclass
class Kpi:
    figure: str  # data-figure, for tests and readers of the DOM
    label: str
    value: str
    detail: str = ""


@dataclasses.dataclass
class Kpis:
    title: str
    items: list[Kpi]


@dataclasses.dataclass
class Chart:
    figure: str
    title: str
    data: list[dict[str, Any]]
    layout: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Table:
    figure: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    numeric: tuple[int, ...] = ()  # right-aligned columns
    caption: str = ""


@dataclasses.dataclass
class Empty:
    title: str
    reason: str


Section = Kpis | Chart | Table | Empty


@dataclasses.dataclass
class Page:
    slug: str  # file name without .html
    title: str
    intro: str
    sections: list[Section]


def money(value: Any, currency: str = "USD", decimals: int = 2) -> str:
    if value is None:
        return NONE
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{abs(float(value)):,.{decimals}f}"


def count(value: Any) -> str:
    return NONE if value is None else f"{int(value):,}"


def percent(value: Any, decimals: int = 1) -> str:
    return NONE if value is None else f"{float(value):.{decimals}%}"


def number(value: Any, decimals: int = 1) -> str:
    return NONE if value is None else f"{float(value):,.{decimals}f}"


def time_axis(
    moments: Sequence[datetime], min_span: timedelta = timedelta(hours=12)
) -> dict[str, Any]:
    """A date x-axis. Moments closer together than `min_span` (a single run, say) get that much
    room around them: Plotly would otherwise zoom to milliseconds."""
    axis: dict[str, Any] = {"type": "date"}
    if moments and max(moments) - min(moments) < min_span:
        middle = min(moments) + (max(moments) - min(moments)) / 2
        axis["range"] = [str(middle - min_span / 2), str(middle + min_span / 2)]
    return axis


def layout(**overrides: Any) -> dict[str, Any]:
    """Plotly layout shared by every chart: palette, thousands separators, room for legends."""
    base: dict[str, Any] = {
        "colorway": PALETTE,
        "separators": ".,",
        "autosize": True,
        "height": 360,
        "margin": {"l": 60, "r": 20, "t": 10, "b": 50},
        "legend": {"orientation": "h", "y": -0.2},
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "xaxis": {"gridcolor": "#eee", "automargin": True},
        "yaxis": {"gridcolor": "#eee", "automargin": True},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


CSS = """
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#f6f7f9}
header{background:#0b3954;color:#fff;padding:12px 20px}
header h1{margin:0;font-size:1.3rem}
nav{display:flex;flex-wrap:wrap;gap:6px 16px;margin-top:8px}
nav a{color:#d6ecff;text-decoration:none;font-size:.95rem}
nav a[aria-current=page]{color:#fff;font-weight:600;text-decoration:underline}
.asof{font-size:.85rem;color:#cfe3f2;margin-top:6px}
main{max-width:1240px;margin:0 auto;padding:16px}
.intro{color:#444;margin:4px 0 16px}
section{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:14px 16px;margin-bottom:16px}
section h2{font-size:1.05rem;margin:0 0 10px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:12px}
.kpi{border:1px solid #e2e5ea;border-radius:6px;padding:10px 12px}
.kpi .label{font-size:.85rem;color:#555}
.kpi .value{font-size:1.6rem;font-weight:600;margin:4px 0}
.kpi .detail{font-size:.85rem;color:#555}
.chart{width:100%;min-height:360px}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:6px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
th{background:#f0f2f5;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
caption{caption-side:bottom;text-align:left;color:#666;font-size:.8rem;padding-top:6px}
.empty{color:#666;font-style:italic}
@media (max-width:600px){main{padding:8px}.kpi .value{font-size:1.3rem}header h1{font-size:1.1rem}}
"""


def _json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value, default=str).replace("</", "<\\/")


def render_section(section: Section) -> str:
    esc = html.escape
    if isinstance(section, Empty):
        return (
            f'<section><h2>{esc(section.title)}</h2><p class="empty" data-empty="true">'
            f"No data yet: {esc(section.reason)}</p></section>"
        )
    if isinstance(section, Kpis):
        cards = "".join(
            f'<div class="kpi"><div class="label">{esc(k.label)}</div>'
            f'<div class="value" data-figure="{esc(k.figure)}">{esc(k.value)}</div>'
            f'<div class="detail">{esc(k.detail)}</div></div>'
            for k in section.items
        )
        return f'<section><h2>{esc(section.title)}</h2><div class="kpis">{cards}</div></section>'
    if isinstance(section, Chart):
        div = f"chart-{esc(section.figure)}"
        return (
            f"<section><h2>{esc(section.title)}</h2>"
            f'<div class="chart" id="{div}" data-figure="{esc(section.figure)}" role="img" '
            f'aria-label="{esc(section.title)}"></div>'
            f"<script>Plotly.newPlot({_json(div)}, {_json(section.data)}, "
            f"{_json(section.layout)}, {{responsive: true, displaylogo: false}});</script>"
            f"</section>"
        )
    head = "".join(
        f'<th{" class=num" if i in section.numeric else ""} scope="col">{esc(c)}</th>'
        for i, c in enumerate(section.columns)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if i in section.numeric else ''}>{esc(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in section.rows
    )
    caption = f"<caption>{esc(section.caption)}</caption>" if section.caption else ""
    return (
        f"<section><h2>{esc(section.title)}</h2><div class=table-wrap>"
        f'<table data-figure="{esc(section.figure)}">{caption}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div></section>"
    )


def render_page(page: Page, pages: list[Page], as_of: str) -> str:
    esc = html.escape
    nav = "".join(
        f'<a href="{p.slug}.html"{" aria-current=page" if p.slug == page.slug else ""}>'
        f"{esc(p.title)}</a>"
        for p in pages
    )
    sections = "\n".join(render_section(s) for s in page.sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(page.title)} · ShopSphere</title>
<style>{CSS}</style>
<script src="assets/plotly.min.js"></script>
</head><body>
<header><h1>ShopSphere · {esc(page.title)}</h1><nav>{nav}</nav>
<div class="asof" data-figure="as-of">{esc(as_of)}</div></header>
<main><p class="intro">{esc(page.intro)}</p>
{sections}
</main></body></html>
"""
