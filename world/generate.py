"""Deterministic generation of the whole source world into an in-memory DuckDB.

Everything is drawn from one numpy Generator seeded by `WorldConfig.seed`, in a fixed order,
so the same config always yields the same rows. The result holds every source table in its
final column types (`shop_*`, `catalog_*`, `hubspot_*`) plus a report of the injected defects;
`world.shop.db`, `world.catalog.db` and `world.hubspot.store` bulk-load it into the real systems.
"""

from __future__ import annotations

import dataclasses

import duckdb

from world.catalog.draw import CatalogDraws
from world.config import WorldConfig
from world.draws import Defect, to_us
from world.hubspot.draw import HubSpotDraws
from world.hubspot.marketing import email_events
from world.shop.draw import ShopDraws

__all__ = ["Defect", "World", "email_events", "generate", "to_us"]


@dataclasses.dataclass
class World:
    config: WorldConfig
    db: duckdb.DuckDBPyConnection
    defects: list[Defect]

    def count(self, table: str) -> int:
        row = self.db.execute(f"select count(*) from {table}").fetchone()
        assert row is not None
        return int(row[0])

    def report(self) -> dict[str, dict[str, float | int | str]]:
        return {
            d.case: {"table": d.table, "rows": d.rows, "of": d.of, "rate": round(d.rate, 5)}
            for d in self.defects
        }


class _Gen(CatalogDraws, ShopDraws, HubSpotDraws):
    """Every system's draws over one shared generator (world.draws.Draws)."""


def generate(cfg: WorldConfig) -> World:
    """Draw the whole world for `cfg`; same config, same rows."""
    g = _Gen(cfg)
    g.categories()
    g.products()
    g.inventory()
    g.customers()
    g.campaigns()
    g.orders()
    g.payments()
    g.hubspot()
    for name in ["categories", "products", "inventory", "customers", "orders", "items", "payments"]:
        g.db.unregister(f"_{name}_arrow")
    return World(cfg, g.db, g.defects)
