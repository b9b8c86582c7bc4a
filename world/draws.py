"""What every system's draws share: the seeded generator, the world's database and its defect
report, and the column helpers (timestamps, picks, nulls, money, messy emails)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from world.config import WorldConfig

US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S
EPOCH = datetime(1970, 1, 1)


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of a naive UTC datetime."""
    return (value - EPOCH) // timedelta(microseconds=1)


def ts_array(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype("int64"), type=pa.timestamp("us"))


def pick(values: list[str], idx: np.ndarray) -> pa.Array:
    """Strings chosen by index, as a plain string column."""
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype("int32")), pa.array(values)).cast(
        pa.string()
    )


def mask_null(arr: pa.Array, null_mask: np.ndarray) -> pa.Array:
    return pa.compute.if_else(pa.array(null_mask), pa.nulls(len(arr), arr.type), arr)


@dataclasses.dataclass
class Defect:
    """One docs/spec.md §2 defect: where it lives, how many rows carry it, out of how many."""

    case: str
    table: str
    rows: int
    of: int

    @property
    def rate(self) -> float:
        return self.rows / self.of if self.of else 0.0


class Draws:
    """The state every system's draws share: one numpy Generator seeded by the config, drawn
    from in a fixed order, and the in-memory DuckDB the tables land in."""

    # What one system's draws leave for another's (set by the system that draws them first):
    # the catalog's prices, the shop's customers and orders, HubSpot's campaigns and contacts.
    product_list_cents: np.ndarray
    customer_created: np.ndarray
    customer_currency: np.ndarray
    customer_deleted: np.ndarray
    customer_dup_or_invalid: np.ndarray
    customer_email: list[str | None]
    customer_first: list[str]
    customer_last: list[str]
    order_placed: np.ndarray
    order_updated: np.ndarray
    order_status: np.ndarray
    order_currency: np.ndarray
    order_future: np.ndarray
    order_total: np.ndarray
    campaign_rows: list[dict[str, Any]]
    contact_ids: np.ndarray
    contact_emails: list[str | None]
    contact_active: np.ndarray

    def __init__(self, cfg: WorldConfig) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.as_of = to_us(cfg.as_of)
        self.db = duckdb.connect()
        self.defects: list[Defect] = []

    # -- helpers -------------------------------------------------------------------------
    def choose_mask(self, n: int, rate: float, eligible: np.ndarray | None = None) -> np.ndarray:
        """Exactly round(n * rate) rows (from `eligible` if given) set True."""
        mask = np.zeros(n, dtype=bool)
        pool = np.flatnonzero(eligible) if eligible is not None else np.arange(n)
        k = min(len(pool), round(n * rate))
        if k:
            mask[self.rng.choice(pool, size=k, replace=False)] = True
        return mask

    def register(self, name: str, table: pa.Table) -> None:
        self.db.register(f"_{name}_arrow", table)

    def uuid4(self) -> str:
        return str(uuid.UUID(bytes=self.rng.bytes(16), version=4))


def money_sql(col: str) -> str:
    return f"({col}::decimal(18, 0) / 100)::decimal(12, 2)"


def hubspot_iso(us: int | np.integer) -> str:
    """HubSpot's timestamp format: ISO 8601 UTC with milliseconds and Z."""
    value = EPOCH + timedelta(microseconds=int(us))
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def vary_email(email: str, rng: np.random.Generator) -> str:
    """The same address as a human might retype it: other case, stray whitespace."""
    kind = int(rng.integers(0, 4))
    local, _, domain = email.partition("@")
    if kind == 0:
        return email.upper()
    if kind == 1:
        return f"{local.title()}@{domain}"
    if kind == 2:
        return f" {email}"
    return f"{local.capitalize()}@{domain.upper()} "


def break_email(email: str, kind: int) -> str:
    local, _, domain = email.partition("@")
    return [f"{local}@", f"{local}{domain}", f"{local} {local}@{domain}", f"{local}@@{domain}"][
        kind
    ]
