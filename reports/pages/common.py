"""What every page shares: a section that says "no data yet" instead of failing, and the
few formats and filters the pages write."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

from ..html import NONE, Empty, Section
from ..source import NoData, Source

Builder = Callable[[Source, datetime], Section]
T = TypeVar("T")


def guarded(title: str, build: Builder, src: Source, now: datetime) -> Section:
    """A section, or "no data yet" when the warehouse does not hold what it needs."""
    try:
        return build(src, now)
    except NoData as exc:
        return Empty(title, str(exc))


def day_text(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)


def on_day(day: date) -> str:
    """A MetricFlow filter: the metric's day is `day`."""
    return f"{{{{ TimeDimension('metric_time', 'day') }}}} = cast('{day.isoformat()}' as date)"


def since_day(day: date) -> str:
    """A MetricFlow filter: the metric's day is `day` or later."""
    return f"{{{{ TimeDimension('metric_time', 'day') }}}} >= cast('{day.isoformat()}' as date)"


def nonempty(rows: list[T], what: str) -> list[T]:
    """`rows`, or NoData(what) when there are none."""
    if not rows:
        raise NoData(what)
    return rows


def stamp(value: Any) -> str:
    """A timestamp to the minute, or the table's mark for none."""
    if value is None:
        return NONE
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value)[:16]
