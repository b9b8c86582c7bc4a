"""Timestamps as the loaders exchange them: microseconds (or HubSpot's milliseconds) since the
epoch, and the UTC text every warehouse and source parses. Naive values are UTC, never local."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from loaders.shared.errors import LoaderError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_iso(value: str | None) -> datetime | None:
    """An ISO 8601 text (a trailing `Z` included) as an aware datetime; None for none."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def to_us(value: Any) -> int:
    """Microseconds since the epoch of a datetime or ISO text, as a driver returns it.

    Naive datetimes (MySQL DATETIME via pymysql, SQLite text) are UTC, never local time.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int((value - EPOCH) // timedelta(microseconds=1))
    raise LoaderError(f"unsupported cursor value {value!r}")


def to_ms(value: str | None) -> int:
    """Milliseconds since the epoch of an ISO text (HubSpot's stamps); 0 for none."""
    dt = parse_iso(value)
    return to_us(dt) // 1000 if dt else 0


def utc_text(us: int, places: int = 6) -> str:
    """`YYYY-MM-DD HH:MM:SS.ffffff` in UTC for microseconds since the epoch, cut to `places`
    fractional digits; callers add the offset their reader expects."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(us // 1_000_000))
    return f"{stamp}.{us % 1_000_000:06d}"[: len(stamp) + 1 + places]
