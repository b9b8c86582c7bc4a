"""What a day of change reports, and the helpers every system's change shares."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime


@dataclasses.dataclass
class ChangeReport:
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    hard_deleted_order_ids: list[int] = dataclasses.field(default_factory=list)
    soft_deleted_customer_ids: list[int] = dataclasses.field(default_factory=list)
    late_updated_order_ids: list[int] = dataclasses.field(default_factory=list)
    archived_contact_ids: list[int] = dataclasses.field(default_factory=list)
    moved_marketing_email_id: str | None = None
    renamed_utm: tuple[str, str] | None = None  # (campaign id, its utm before the change)
    new_column: str | None = None
    new_contact_property: str | None = None


def share_of(n: int, share: float) -> int:
    return max(1, math.ceil(n * share))


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso_ms(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
