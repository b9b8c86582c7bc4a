"""How each table lands this run (full, incremental or backfill), decided from raw's state and
schema before anything is read: a lossy type change stops the table with one line, a widened
column is converted in raw before a full refresh swaps the new rows in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dlt

from loaders.engine.raw_tables import dlt_type_of
from loaders.shared.errors import LoaderError
from loaders.shared.pipeline import stored_columns
from loaders.shared.types import SourceColumn, TablePlan, TableSpec, emit


def resource_state(pipeline: dlt.Pipeline, source: str, table: str) -> dict[str, Any]:
    state: dict[str, Any] = pipeline.state.get("sources", {}).get(source, {})
    resources: dict[str, Any] = state.get("resources", {})
    return dict(resources.get(table, {}))


def plan_table(
    pipeline: dlt.Pipeline,
    source: str,
    spec: TableSpec,
    columns: list[SourceColumn],
    full_refresh: bool,
    capture: str = "cursor",
) -> TablePlan:
    """Decide how a table lands this run; LoaderError if its schema changed in a lossy way.

    In stream mode a table is loaded incrementally once a copy stored the stream's position; a
    table the cursor loaded until now is copied once more to get one.

    A table raw already holds is reloaded through staging and swapped in one transaction
    (`atomic`), so readers see the previous complete data until the new load completes. A
    `--full-refresh` after a column type changed converts that raw column first (`retype`).
    """
    state = resource_state(pipeline, source, spec.name)
    stored = stored_columns(pipeline, spec.name)
    exists = stored is not None
    changed = _changed_types(stored or {}, columns)
    if full_refresh:
        return TablePlan(
            spec, columns, "full", "--full-refresh", atomic=exists, retype=tuple(changed)
        )
    if stored is None or "cursor_us" not in state:
        return TablePlan(spec, columns, "full", "first load", atomic=exists)
    if capture == "stream" and "stream" not in state:
        return TablePlan(spec, columns, "full", "first load from the stream", atomic=True)
    if changed:
        raise LoaderError(
            f"{source}.{spec.name}: column type changed in the source: {'; '.join(changed.values())}. "
            f"Raw keeps the old type rather than coerce values; review the change, then run "
            f"`python -m loaders.run --source {source} --table {spec.name} --full-refresh` to rebuild it"
        )
    new = [c.name for c in columns if c.name not in stored]
    if new:
        return TablePlan(
            spec,
            columns,
            "backfill",
            f"new column(s) {', '.join(new)}: reloading to backfill",
            atomic=True,
        )
    return TablePlan(spec, columns, "incremental")


def _changed_types(
    stored: dict[str, dict[str, Any]], columns: Sequence[SourceColumn]
) -> dict[str, str]:
    """{column: 'c old -> new'} for the source columns whose type differs from raw's."""
    changed = {}
    for c in columns:
        old = stored.get(c.name)
        if old is None or "data_type" not in old:
            continue
        new_type = dlt_type_of(c)
        old_type = (old["data_type"], old.get("precision"), old.get("scale"))
        if old_type[0] == "timestamp":
            old_type = ("timestamp", None, old.get("scale"))
        if new_type != old_type:
            changed[c.name] = (
                f"{c.name} {_fmt_type(old_type)} -> {c.source_type} ({_fmt_type(new_type)})"
            )
    return changed


def retype_raw_columns(pipeline: dlt.Pipeline, source: str, plan: TablePlan) -> None:
    """Convert raw's columns to the source's new types before a full refresh swaps them in.

    One transaction converts the old values (every widening converts: int to text, a wider
    decimal), so the table keeps its complete data until the reload replaces it. Where the
    warehouse cannot convert in place, the table is dropped and loaded afresh, and readers see
    it empty until that load completes (said on stderr).
    """
    table_name = plan.spec.name
    by_name = {c.name: c for c in plan.columns}
    stored = pipeline.default_schema.tables[table_name]["columns"]
    new_columns: dict[str, Any] = {}
    for name in plan.retype:
        new_type, precision, scale = dlt_type_of(by_name[name])
        column = {**stored[name], "data_type": new_type, "precision": precision, "scale": scale}
        new_columns[name] = {k: v for k, v in column.items() if v is not None}
    converted = True
    job_client: Any
    with pipeline.destination_client() as job_client:
        client = job_client.sql_client
        table = client.make_qualified_table_name(table_name)
        prepared = job_client.prepare_load_table(table_name)
        statements = [
            f"alter table {table} alter column {client.escape_column_name(name)} set data type "
            f"{job_client.type_mapper.to_destination_type(column, prepared)}"
            for name, column in new_columns.items()
        ]
        try:
            with client.begin_transaction():
                for statement in statements:
                    client.execute_sql(statement)
        except Exception as exc:
            emit(
                f"  {source}.{table_name}: raw cannot convert {', '.join(plan.retype)} in place "
                f"({str(exc).splitlines()[0][:160]}); dropping it: readers see it empty until this load completes"
            )
            client.execute_sql(f"drop table if exists {table}")
            converted = False
    schema = pipeline.default_schema
    if converted:
        schema.tables[table_name]["columns"].update(new_columns)
    else:
        schema.drop_tables([table_name])
        plan.atomic = False
    pipeline.schemas.save_schema(schema)


def _fmt_type(t: tuple[str, int | None, int | None]) -> str:
    name, precision, scale = t
    if name == "decimal":
        return f"decimal({precision},{scale})"
    if name == "bigint" and precision:
        return f"int{precision}"
    return name
