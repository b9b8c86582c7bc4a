"""The ShopSphere source world: the systems this project loads from, built for dev, test and demo.

It creates and fills the MySQL/MariaDB `shop` database, the PostgreSQL `catalog` schema and a
HubSpot portal (served over HTTP by an emulator), deterministically for a seed, with the dirty
data of docs/spec.md §2 at known rates. The loaders never import this package: they only see the
systems it stands up.
"""
