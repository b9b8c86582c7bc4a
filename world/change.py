"""A day of change in every source: what incremental loads, deletes and drift are tested on.

The shop behaves like its application: new customers and orders, status changes on old orders
(some weeks late), customers forgotten (deleted_at set, PII blanked), test orders purged with a
hard DELETE. The catalog reprices products and moves stock destructively, adds products and,
optionally, gains a column nobody announced. HubSpot contacts and deals are edited, created and
archived, and a new email send produces events.

Updates run through the databases' own clocks (ON UPDATE CURRENT_TIMESTAMP(6) in the shop), so
one multi-row UPDATE gives many rows the same `updated_at`: cursor ties happen naturally.
"""

from __future__ import annotations

import json

import numpy as np

from world.catalog.change import catalog_changes
from world.catalog.db import CatalogDB
from world.change_common import ChangeReport
from world.hubspot.change import (
    add_contact_property,
    apply_hubspot_change,
    hubspot_changes,
    touch_contacts,
)
from world.hubspot.store import HubSpotStore
from world.shop.change import shop_changes
from world.shop.db import ShopDB

__all__ = [
    "ChangeReport",
    "add_contact_property",
    "apply_change",
    "apply_hubspot_change",
    "touch_contacts",
]


def apply_change(
    shop: ShopDB,
    catalog: CatalogDB,
    store: HubSpotStore,
    seed: int,
    number: int,
    fraction: float = 0.01,
    new_column: bool = False,
) -> ChangeReport:
    """Apply change number `number` (1, 2, ...) touching about `fraction` of each source."""
    rng = np.random.default_rng([seed, number])
    report = ChangeReport()
    campaign_utms = _campaign_utms(store)
    prices = catalog_changes(catalog, rng, fraction, new_column, number, report)
    shop_changes(shop, rng, fraction, campaign_utms, prices, report)
    hubspot_changes(store, rng, fraction, number, report)
    return report


def _campaign_utms(store: HubSpotStore) -> list[str]:
    with store.connect() as conn:
        rows = conn.execute("select properties from campaigns order by id").fetchall()
    return [json.loads(r[0])["hs_utm"] for r in rows]
