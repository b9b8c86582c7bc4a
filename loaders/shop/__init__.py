"""The shop: the MySQL/MariaDB OLTP database of docs/spec.md §1a, landed in raw_shop.

Every table is incremental on `updated_at` (the application stamps it on every change, ON
UPDATE CURRENT_TIMESTAMP(6)) and merged on its primary key. Soft-deleted customers arrive
through that cursor like any change. Test orders are purged with a hard DELETE of the order,
its items and its payments: order keys are compared with raw to find them, and items and
payments go with their order (see loaders.engine.deletes).
"""

from loaders.shared.types import KeyScan, SqlSourceSpec, TableSpec

SOURCE = SqlSourceSpec(
    name="shop",
    system="MySQL shop database",
    credentials_example="mysql+pymysql://loader:secret@shop-db:3306/shop",  # pragma: allowlist secret
    tables=(
        TableSpec("customers", ("customer_id",)),
        TableSpec("orders", ("order_id",), deletes=KeyScan()),
        TableSpec("order_items", ("order_item_id",), deletes=KeyScan()),
        TableSpec("payments", ("payment_id",), deletes=KeyScan()),
    ),
)
