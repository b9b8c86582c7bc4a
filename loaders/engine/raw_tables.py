"""How a SQL table is declared to dlt: its column hints (keys, json, the tombstone flag), the
resource that merges it by key, and the `_deleted_<table>` rows a load appends beside it (the
keys it deleted, or one row saying it replaced the table)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import dlt
import pyarrow as pa
from dlt.common.schema.typing import TColumnSchema, TSchemaContractDict

from loaders.engine.sql_readers import target_schema
from loaders.shared.types import (
    DELETED_COLUMN,
    RELOADED_COLUMN,
    SourceColumn,
    TablePlan,
    TableSpec,
    deleted_keys_table,
)


class _JsonAsTextFilter(logging.Filter):
    """Arrow has no json type: a column the source declares json (`SourceColumn.is_json`)
    reaches dlt as text, and dlt warns on every batch of its table that "several column hints
    were different", then keeps its own hint, json, which is what lands. Nobody can act on that
    warning, so it is dropped, for the resources of tables with a json column only."""

    tables: ClassVar[set[str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "several column hints were different" not in message or not any(
            message.startswith(f"In resource: {table},") for table in self.tables
        )


logging.getLogger("dlt").addFilter(_JsonAsTextFilter())


def column_hints(
    columns: Sequence[SourceColumn], spec: TableSpec, merge: bool
) -> list[TColumnSchema]:
    hints: list[TColumnSchema] = []
    for c in columns:
        hint: TColumnSchema = {"name": c.name, "nullable": c.name not in spec.primary_key}
        if c.name in spec.primary_key:
            hint["primary_key"] = True
        if c.is_json:
            hint["data_type"] = "json"
            _JsonAsTextFilter.tables.add(spec.name)
        hints.append(hint)
    if merge:  # the tombstone flag only means something to a merge
        hints.append(
            {"name": DELETED_COLUMN, "data_type": "bool", "nullable": True, "hard_delete": True}
        )
    return hints


def tombstones(table: str, keys: pa.Table) -> Iterator[Any]:
    """Keys of rows the source deleted: flagged for dlt's hard delete of the raw rows, and
    appended to `_deleted_<table>` in the same load package, so that staging deletes by key
    instead of comparing itself with the whole raw table. Keys are never null in the
    tombstones: the schema says so, or dlt warns that the batch's hints differ."""
    schema = pa.schema([f.with_nullable(False) for f in keys.schema])
    yield keys.cast(schema).append_column(
        DELETED_COLUMN, pa.array([True] * keys.num_rows, pa.bool_())
    )
    yield deleted_keys(table, keys, reloaded=False)


def deleted_keys(table: str, keys: pa.Table, reloaded: bool) -> Any:
    """Rows for `_deleted_<table>`: the keys a load deleted, or one row with null keys and
    `_reloaded` set for a load that replaced the whole table (staging then compares itself
    with raw once). Appended in the load's own package: it commits with the load or not at all."""
    schema = pa.schema([f.with_nullable(True) for f in keys.schema])
    rows = keys.cast(schema).append_column(
        pa.field(RELOADED_COLUMN, pa.bool_()), pa.array([reloaded] * keys.num_rows, pa.bool_())
    )
    # Its key columns are plain nullable ones here (the table's resource registered the
    # variant with no columns: `with_deleted_keys_variant`).
    columns: list[TColumnSchema] = [
        {"name": f.name, "nullable": True, "primary_key": False} for f in rows.schema
    ]
    hints = dlt.mark.make_hints(
        table_name=deleted_keys_table(table),
        write_disposition="append",
        columns=columns,
        primary_key=[],
    )
    return dlt.mark.with_hints(rows, hints, create_table_variant=True)


def with_deleted_keys_variant(resource: Any, table: str) -> Any:
    """`resource`, with `_deleted_<table>` registered as a table variant that has no columns of
    its own. Left to itself, dlt would start the variant from the table's hints, and every load
    that wrote deleted keys would warn that the table's other columns received no data."""
    resource.apply_hints(
        table_name=deleted_keys_table(table), columns={}, create_table_variant=True
    )
    return resource


def reload_marker(plan: TablePlan) -> Any:
    """The `_deleted_<table>` row of a load that replaces the table (full, backfill)."""
    schema = target_schema(plan.columns, plan.spec.primary_key)
    keys = pa.table({k: pa.nulls(1, schema.field(k).type) for k in plan.spec.primary_key})
    return deleted_keys(plan.spec.name, keys, reloaded=True)


def merge_resource(plan: TablePlan) -> Callable[[Callable[..., Any]], Any]:
    """The dlt resource decorator of a table merged on its key, deletes as hard deletes (the
    stream's changes, the reconciliation's repairs)."""
    spec = plan.spec
    contract: TSchemaContractDict = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}
    decorate = dlt.resource(
        name=spec.name,
        table_name=spec.name,
        primary_key=list(spec.primary_key),
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=column_hints(plan.columns, spec, merge=True),
        schema_contract=contract,
    )
    return lambda rows: with_deleted_keys_variant(decorate(rows), spec.name)


def dlt_type_of(column: SourceColumn) -> tuple[str, int | None, int | None]:
    """(data_type, precision, scale) dlt stores for a source column."""
    from dlt.common.libs.pyarrow import get_column_type_from_py_arrow

    if column.is_json:
        return ("json", None, None)
    t = get_column_type_from_py_arrow(column.arrow_type)
    precision = t.get("precision")
    scale = t.get("scale")
    if t["data_type"] == "timestamp":
        precision = None  # the destination may report its own timestamp precision
    return (str(t["data_type"]), precision, scale)
