"""How big the world is and how dirty: the knobs every generator and test agrees on."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime


@dataclasses.dataclass(frozen=True)
class DirtyRates:
    """Share of rows carrying each docs/spec.md §2 defect, per table the defect lives in."""

    duplicate_customer_email: float = (
        0.01  # customers: a second account, email differs in case/space
    )
    invalid_customer_email: float = 0.01  # customers
    null_country: float = 0.02  # customers
    soft_deleted_customer: float = 0.005  # customers: forgotten at the customer's request
    nonpositive_quantity: float = 0.005  # order_items
    orphan_product: float = 0.005  # order_items: product_id not in the catalog
    future_placed_at: float = 0.003  # orders
    total_mismatch: float = 0.005  # orders: total != subtotal - discount + shipping + tax
    zero_processed_at: float = 0.01  # payments: legacy zero date
    contact_without_email: float = 0.02  # hubspot contacts
    duplicate_contact_email: float = 0.02  # hubspot contacts: a second contact for one email
    null_product_category: float = 0.01  # products


def default_as_of() -> datetime:
    """Today at 00:00 UTC (naive): the world's history ends here."""
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day)


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    """Scale and seed of a world; everything else derives from these deterministically."""

    orders: int = 20_000
    seed: int = 42
    as_of: datetime = dataclasses.field(default_factory=default_as_of)
    contacts: int | None = None  # default: derived from customers
    rates: DirtyRates = dataclasses.field(default_factory=DirtyRates)

    @property
    def customers(self) -> int:
        return max(100, self.orders // 4)

    @property
    def products(self) -> int:
        return max(200, self.orders // 20)

    @property
    def campaigns(self) -> int:
        return min(40, max(8, self.orders // 2_000))

    @property
    def companies_per_contact(self) -> float:
        return 1 / 25

    @property
    def deals_per_contact(self) -> float:
        return 1 / 8
