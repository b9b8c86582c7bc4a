"""The catalog: the PostgreSQL product database (schema `catalog`) of docs/spec.md §1b,
landed in raw_catalog.

Prices and stock are overwritten in place, so raw mirrors the current state and dbt snapshots
keep the history. Incremental on `updated_at`, merged on the primary key; keys are compared
with raw so that removed rows are removed from raw too. A column added to `products` without
notice lands on the next run (the table is reloaded to backfill it).
"""

from loaders.shared.types import KeyScan, SqlSourceSpec, TableSpec

SOURCE = SqlSourceSpec(
    name="catalog",
    system="PostgreSQL product catalog",
    pg_schema="catalog",
    credentials_example="postgresql://loader:secret@catalog-db:5432/catalog",  # pragma: allowlist secret
    tables=(
        TableSpec("categories", ("category_id",), deletes=KeyScan()),
        TableSpec("products", ("product_id",), deletes=KeyScan()),
        TableSpec("inventory_levels", ("product_id", "warehouse_code"), deletes=KeyScan()),
    ),
)
