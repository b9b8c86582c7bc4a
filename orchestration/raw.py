"""One asset per raw table, by wrapping the project's own loader runner (`loaders.run`).

Each source is one multi-asset: one step loads the source's selected tables in one run of its
loader, as `python -m loaders.run --source NAME` would, and reports one materialization per
table with the run's figures. The keys are the dbt sources' (raw_<source>/<table>), so dbt's
staging models hang off them and the lineage runs unbroken from the source systems to the marts.

Retries: a transient failure (loaders.shared.errors.is_transient) raises a plain error that
the step's RetryPolicy retries with exponential backoff and jitter; a terminal one raises
`Failure(allow_retries=False)` and fails once.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from loaders import sources as registry
from loaders.run import load_sources
from loaders.shared.report import write_audit
from loaders.shared.types import TableMetrics, deleted_keys_table

from .settings import Settings

BOOKKEEPING = "_dlt_loads"  # dlt's load log, a dbt source of its own


def source_tables(name: str) -> list[str]:
    """The tables the loader of source `name` declares."""
    return [t.name for t in registry.source(name).tables]


def raw_key(source: str, table: str) -> dg.AssetKey:
    return dg.AssetKey([f"raw_{source}", table])


def table_metadata(m: TableMetrics, audit_run_id: str | None) -> dict[str, Any]:
    stream: dict[str, Any] = {}
    if m.stream is not None:  # where the source's change stream stands after the load
        h = m.stream
        stream = {
            "stream_position": h.position,
            "stream_server_end": h.server_end,
            **{
                f"stream_{name}": value
                for name, value in (
                    ("lag_bytes", h.lag_bytes),
                    ("held_bytes", h.held_bytes),
                    ("margin_bytes", h.margin_bytes),
                )
                if value is not None
            },
            **({"stream_lost": h.lost} if h.lost else {}),
        }
    return {
        "mode": m.mode,
        "capture": m.capture,
        **stream,
        "rows_extracted": m.rows_extracted,
        "rows_loaded": m.rows_loaded,
        "rows_deleted": m.rows_deleted,
        "seconds": dg.MetadataValue.float(round(m.seconds, 3)),
        "rows_per_second": dg.MetadataValue.float(round(m.rows_per_second, 1)),
        "dlt_load_id": m.load_id or "",
        "audit_run_id": audit_run_id or "",
    }


class TransientLoadFailure(Exception):
    """A load that should pass when retried later; the step's RetryPolicy retries it."""


def deleted_keys_tables(source: str) -> dict[str, str]:
    """`_deleted_<table>` -> table: the keys a SQL source's loads deleted, landed with their
    table in its load (an API source archives: it has none)."""
    if not registry.is_sql(source):
        return {}
    return {deleted_keys_table(t): t for t in source_tables(source)}


def raw_assets(source: str, cfg: Settings) -> dg.AssetsDefinition:
    tables = source_tables(source)
    deleted = deleted_keys_tables(source)

    def describe(t: str) -> str:
        if t in deleted:
            return f"The keys the loads of {source}.{deleted[t]} deleted, landed with it."
        return f"{registry.source(source).system} table {t}, landed by loaders/{source}."

    specs = [
        dg.AssetSpec(
            raw_key(source, t),
            group_name=f"raw_{source}",
            kinds={"dlt", cfg.destination},
            description=describe(t),
            tags={"shopsphere/source": source},
            skippable=True,
        )
        for t in [*tables, *deleted, BOOKKEEPING]
    ]

    @dg.multi_asset(
        name=f"load_{source}",
        specs=specs,
        can_subset=True,
        pool=f"shopsphere_load_{source}",  # one run of a source at a time (dagster.yaml)
        retry_policy=dg.RetryPolicy(
            max_retries=cfg.retries,
            delay=cfg.retry_delay_seconds,
            backoff=dg.Backoff.EXPONENTIAL,
            jitter=dg.Jitter.PLUS_MINUS,
        ),
        op_tags={"shopsphere/source": source},
    )
    def load(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult[None]]:
        selected = {key.path[-1] for key in context.selected_asset_keys}
        # A table's deleted keys land with it: either asked for loads the table.
        wanted = [t for t in tables if t in selected or deleted_keys_table(t) in selected]
        names = None if set(tables) <= set(wanted) else wanted
        started = datetime.now(UTC)
        results = load_sources({source: names}, False, cfg.destination)
        audit_run_id = write_audit(results, cfg.destination, started)
        failed = [r for r in results if r.error]
        for m in results:
            if m.error:
                continue
            if m.table in selected:
                yield dg.MaterializeResult(
                    asset_key=raw_key(source, m.table), metadata=table_metadata(m, audit_run_id)
                )
            if deleted_keys_table(m.table) in selected:
                yield dg.MaterializeResult(
                    asset_key=raw_key(source, deleted_keys_table(m.table)),
                    metadata={"rows_deleted": m.rows_deleted, "dlt_load_id": m.load_id or ""},
                )
        if failed:
            first = failed[0].error or ""
            if all(r.transient for r in failed):
                context.log.warning(f"transient failure, to be retried: {first}")
                raise TransientLoadFailure(first)
            raise dg.Failure(
                description=first,
                metadata={"errors": "\n".join(r.error or "" for r in failed)},
                allow_retries=False,
            )
        if BOOKKEEPING in selected:
            load_ids = sorted({m.load_id for m in results if m.load_id})
            yield dg.MaterializeResult(
                asset_key=raw_key(source, BOOKKEEPING),
                metadata={
                    "dlt_load_id": load_ids[-1] if load_ids else "",
                    "audit_run_id": audit_run_id or "",
                },
            )

    return load
