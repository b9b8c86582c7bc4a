"""What the SQL engine decides, without a database server: how a table lands this run (plan),
which keys the source deleted (deletes), and how consecutive key ranges are merged into the
intervals a read asks for."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from loaders.engine.deletes import RANGE_KEYS, DeleteContext, merged
from loaders.engine.plan import plan_table
from loaders.engine.sql_readers import open_reader
from loaders.shared.errors import LoaderError
from loaders.shared.types import SourceColumn, TableSpec

ORDERS = TableSpec("orders", ("order_id",), "updated_at")
ID = SourceColumn("order_id", "bigint", pa.int64(), False)
AMOUNT = SourceColumn("amount", "decimal(12,2)", pa.decimal128(12, 2), True)
RAW_ID = {"data_type": "bigint"}
RAW_AMOUNT = {"data_type": "decimal", "precision": 12, "scale": 2}


def pipeline(state: dict[str, Any] | None, columns: dict[str, Any] | None) -> Any:
    """What plan_table reads of a dlt pipeline: the table's resource state and raw's columns."""
    tables = {} if columns is None else {"orders": {"columns": columns}}
    return SimpleNamespace(
        state={"sources": {"shop": {"resources": {"orders": state or {}}}}},
        default_schema_name="shop" if columns is not None else None,
        default_schema=SimpleNamespace(tables=tables),
    )


LOADED = {"cursor_us": 1}
SAME = {"order_id": RAW_ID, "amount": RAW_AMOUNT}


def plan(state: Any, stored: Any, columns: list[SourceColumn], **kw: Any) -> Any:
    return plan_table(pipeline(state, stored), "shop", ORDERS, columns, kw.pop("full", False), **kw)


def test_a_table_raw_has_never_seen_is_loaded_in_full() -> None:
    p = plan(None, None, [ID, AMOUNT])
    assert (p.mode, p.reason, p.atomic) == ("full", "first load", False)


def test_a_table_without_a_cursor_is_reloaded_and_swapped_in() -> None:
    p = plan({}, SAME, [ID, AMOUNT])
    assert (p.mode, p.atomic) == ("full", True)


def test_an_unchanged_table_with_a_cursor_is_incremental() -> None:
    assert plan(LOADED, SAME, [ID, AMOUNT]).mode == "incremental"


def test_a_stream_needs_one_copy_that_stores_its_position() -> None:
    p = plan(LOADED, SAME, [ID, AMOUNT], capture="stream")
    assert (p.mode, p.reason) == ("full", "first load from the stream")
    assert plan(
        {**LOADED, "stream": {"file": "b.1"}}, SAME, [ID, AMOUNT], capture="stream"
    ).mode == ("incremental")


def test_a_new_source_column_backfills_the_table() -> None:
    p = plan(LOADED, {"order_id": RAW_ID}, [ID, AMOUNT])
    assert (p.mode, p.atomic) == ("backfill", True)
    assert "amount" in p.reason


def test_a_changed_type_stops_the_table_naming_it_and_the_way_out() -> None:
    wider = SourceColumn("amount", "decimal(18,4)", pa.decimal128(18, 4), True)
    with pytest.raises(LoaderError, match=r"shop\.orders: column type changed.*amount") as err:
        plan(LOADED, SAME, [ID, wider])
    assert "--full-refresh" in str(err.value)
    refresh = plan(LOADED, SAME, [ID, wider], full=True)
    assert (refresh.mode, refresh.retype, refresh.atomic) == ("full", ("amount",), True)


class Raw:
    """What the delete detection reads of raw: one DuckDB table of keys."""

    def __init__(self, keys: pa.Table) -> None:
        self.con = duckdb.connect()
        self.con.register("keys_", keys)
        self.con.execute("create table orders as select * from keys_")

    def has(self, table: str) -> bool:
        return table == "orders"

    def select(self, table: str, columns: list[str], where: str = "") -> pa.Table:
        sql = f"select {', '.join(columns)} from {table}" + (f" where {where}" if where else "")
        return self.con.execute(sql).fetch_arrow_table()

    def column(self, name: str) -> str:
        return f'"{name}"'

    def epoch_us(self, expression: str) -> str:
        return f"epoch_us({expression})"

    def table(self, name: str) -> str:
        return name

    def query(self, sql: str) -> pa.Table:
        return self.con.execute(sql).fetch_arrow_table()


def deletes(tmp_path: Path, source_ids: list[int], raw_ids: list[int]) -> DeleteContext:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("create table orders (order_id integer primary key)")
        conn.executemany("insert into orders values (?)", [(i,) for i in source_ids])
    raw = Raw(pa.table({"order_id": pa.array(raw_ids, pa.int64())}))
    return DeleteContext(
        "shop",
        open_reader(f"sqlite:///{path}", "shop"),
        raw,  # type: ignore[arg-type]
        {"orders": [ID]},
        {"orders": ("order_id",)},
    )


def test_the_keys_the_source_deleted_are_found_in_the_ranges_that_differ(tmp_path: Path) -> None:
    everything = list(range(1, 5_001))
    deleted = [7, 2_500, 4_999]
    ctx = deletes(tmp_path, [i for i in everything if i not in deleted], everything)
    assert ctx.differing_ranges("orders", "order_id", held_only=True) == [0, 2, 4]
    gone = ctx.gone("orders")
    assert gone is not None and sorted(gone["order_id"].to_pylist()) == deleted


def test_nothing_is_gone_when_raw_and_the_source_agree(tmp_path: Path) -> None:
    ids = list(range(1, 3_000))
    ctx = deletes(tmp_path, ids, ids)
    assert ctx.differing_ranges("orders", "order_id") == []
    assert ctx.gone("orders") is None


def test_rows_new_in_the_source_are_not_deletes(tmp_path: Path) -> None:
    ctx = deletes(tmp_path, list(range(1, 2_500)), list(range(1, 1_200)))
    assert ctx.differing_ranges("orders", "order_id", held_only=True) == [1]
    gone = ctx.gone("orders")
    assert gone is None or gone.num_rows == 0


def test_consecutive_ranges_merge_into_one_interval() -> None:
    assert merged([0, 1, 2, 5, 7, 8]) == [
        (0, 3 * RANGE_KEYS - 1),
        (5 * RANGE_KEYS, 6 * RANGE_KEYS - 1),
        (7 * RANGE_KEYS, 9 * RANGE_KEYS - 1),
    ]
    assert merged([]) == []
