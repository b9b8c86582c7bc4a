"""The safety net under the change streams: raw compared with the source, table by table, and
what differs repaired (`python -m loaders.run --reconcile`, weekly in Dagster's history job).

A stream can miss what never reaches it: a table loaded while the stream was off, a change
made with the binlog disabled for a session (`sql_log_bin = 0`), a restore that rewound the
source. Each table with an integer key is compared range by range (count, sum of keys, sum of
the cursor's microseconds: loaders.engine.deletes); the rows of the ranges that differ are read
again from the source and merged, and raw's keys the source no longer has are deleted. Other
keys are compared whole, as (key, cursor) versions. The cost is one aggregate per table on the
source plus the differing ranges: the figures of history, not its rows.

The stream's stored position is left as it is: the next run replays from it, and its full row
images converge on what the repair wrote.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loaders.engine.deletes import RANGE_KEYS, RANGES_PER_QUERY, DeleteContext, anti_join, merged
from loaders.engine.raw_tables import merge_resource, tombstones
from loaders.engine.sql_readers import ANY_ZERO, SqlReader, sql_literal, to_target
from loaders.shared.types import Progress, TableMetrics, TablePlan


def reconcile_resource(
    source: str,
    reader: SqlReader,
    plan: TablePlan,
    deletes: DeleteContext,
    metrics: TableMetrics,
    progress: Progress,
) -> Any:
    """The dlt resource that repairs one raw table where it differs from the source."""
    spec = plan.spec
    key_type = next(c.arrow_type for c in plan.columns if c.name == spec.primary_key[0])
    by_ranges = len(spec.primary_key) == 1 and pa.types.is_integer(key_type)
    # Zero dates are rewritten in every query here: the repair reads few rows.
    rewrite = {c.name: ANY_ZERO for c in plan.columns if c.zero_dates}

    def read(where: str) -> Iterator[pa.Table]:
        sql = (
            f"select {reader.select_list(plan.columns, rewrite)} "
            f"from {reader.qualified(spec.name)} where {where}"
        )
        for batch in reader.read(sql):
            data, zeros = to_target(batch, plan.columns, source, spec.name, spec.primary_key)
            metrics.rows_extracted += data.num_rows
            metrics.zero_dates += zeros
            yield data

    @merge_resource(plan)
    def rows() -> Iterator[pa.Table]:
        started = time.perf_counter()
        if by_ranges:
            key = spec.primary_key[0]
            differing = deletes.differing_ranges(spec.name, key, spec.cursor)
            metrics.note = f"{len(differing):,} ranges of {RANGE_KEYS:,} keys differed"
            q, column = reader.quote(key), deletes.raw.column(key)
            for i in range(0, len(differing), RANGES_PER_QUERY):
                ranges = merged(differing[i : i + RANGES_PER_QUERY])
                found = []
                for data in read(" or ".join(f"{q} between {lo} and {hi}" for lo, hi in ranges)):
                    found.append(data.select([key]))
                    metrics.rows_loaded += data.num_rows
                    yield data
                held = deletes.raw.select(
                    spec.name,
                    [key],
                    " or ".join(f"{column} between {lo} and {hi}" for lo, hi in ranges),
                )
                if held is not None and held.num_rows:
                    kept = pa.concat_tables(found) if found else held.schema.empty_table()
                    gone = held.filter(
                        pc.invert(pc.is_in(held[key], value_set=kept[key].cast(held[key].type)))
                    )
                    if gone.num_rows:
                        metrics.rows_deleted += gone.num_rows
                        yield from tombstones(spec.name, gone)
                progress.update(source, spec.name, "reconcile", i, len(differing), started)
        else:
            gone = deletes.gone(spec.name)
            if gone is not None and gone.num_rows:
                metrics.rows_deleted += gone.num_rows
                yield from tombstones(spec.name, gone)
            for data in _other_versions(deletes, plan, read):
                metrics.rows_loaded += data.num_rows
                yield data
        metrics.extract_seconds += time.perf_counter() - started

    return rows


def _other_versions(deletes: DeleteContext, plan: TablePlan, read: Any) -> Iterator[pa.Table]:
    """Rows of a table with a composite key whose (key, cursor) version raw lacks, read again."""
    spec = plan.spec
    names = [*spec.primary_key, spec.cursor]
    q = deletes.reader.quote
    source = pa.concat_tables(
        [
            to_target(t, [c for c in plan.columns if c.name in names], deletes.source, spec.name)[0]
            for t in deletes.reader.read(
                f"select {', '.join(q(n) for n in names)} from {deletes.reader.qualified(spec.name)}"
            )
        ]
        or [pa.table({n: pa.array([], pa.null()) for n in names})]
    )
    held = deletes.raw.select(spec.name, names)
    if held is None or source.num_rows == 0:
        return
    held = held.cast(source.schema) if held.num_rows else held
    missing = anti_join(source, held, names) if held.num_rows else source
    for i in range(0, missing.num_rows, 500):
        chunk = missing.slice(i, 500).to_pylist()
        where = " or ".join(
            "(" + " and ".join(f"{q(k)} = {sql_literal(r[k])}" for k in spec.primary_key) + ")"
            for r in chunk
        )
        yield from read(where)
