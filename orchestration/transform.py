"""dbt as assets (dagster-dbt): one asset per model, seed and snapshot, dbt tests as asset checks,
dbt sources mapped onto the raw assets; then `dbt docs generate` and the report pages.

The manifest comes from `dbt parse` (scripts/dagster runs it; `dagster dev` does it through
`DbtProject.prepare_if_dev`). dbt and the docs take the warehouse's writer lock: on DuckDB, no
build overlaps a load (loaders.shared.locks.warehouse_lock).
"""

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from loaders.run import load_sources
from loaders.shared.locks import warehouse_lock
from loaders.shared.report import write_audit
from loaders.shared.warehouse import duckdb_path

from . import alerts
from .build_plan import Plan, plan_build, record_build
from .manifest_graph import in_order
from .monitoring import dq_breaches, run_link
from .settings import ROOT, Settings, dbt_vars


def dbt_project(cfg: Settings) -> DbtProject:
    project = DbtProject(
        project_dir=ROOT,
        profiles_dir=ROOT,
        target=cfg.dbt_target,
        target_path=Path(cfg.dbt_target_path),
    )
    project.prepare_if_dev()
    return project


class Translator(DagsterDbtTranslator):
    """Sources are the raw assets (raw_<source>/<table>); models are grouped by their layer."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["sources"].get(unique_id)
        if node is not None:
            return spec.replace_attributes(key=dg.AssetKey([node["schema"], node["name"]]))
        return spec

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        parts = dbt_resource_props.get("fqn") or []
        kind = dbt_resource_props.get("resource_type")
        if kind == "model" and len(parts) > 2:
            return str(parts[1])  # staging, intermediate, marts, data_quality
        return str(kind) + "s" if kind in ("seed", "snapshot") else None


PLANNED_TAG = "shopsphere/build_plan"  # on the scheduled jobs: dbt builds what has new data


def selected_nodes(
    context: AssetExecutionContext, manifest: Mapping[str, Any]
) -> dict[str, dg.AssetKey]:
    """The dbt models, seeds and snapshots this run selected (the job's subset of assets)."""
    translator = Translator()
    keys = set(context.selected_asset_keys)
    found = {
        uid: translator.get_asset_spec(manifest, uid, None).key
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }
    return {uid: key for uid, key in found.items() if key in keys}


def unchanged(
    context: AssetExecutionContext,
    manifest: Mapping[str, Any],
    plan: Plan,
    selected: Mapping[str, dg.AssetKey],
) -> Iterator[dg.Output[None]]:
    """An output for each selected node the plan left alone: it is current, and the steps after
    dbt (the docs, the report pages) wait for every output of it, or are skipped. Parents first,
    and before dbt's: a node left alone is never downstream of one rebuilt."""
    for uid in in_order(manifest, selected):
        key = selected[uid]
        if uid not in plan.build:
            yield dg.Output(
                None,
                output_name=context.assets_def.get_output_name_for_asset_key(key),
                metadata={"rebuilt": False, "why": "nothing new since its last build"},
            )


def dbt_assets_for(cfg: Settings, project: DbtProject) -> dg.AssetsDefinition:
    # The daily build tests what it wrote: the tests tagged history (they read all of it) run
    # in the weekly history job instead (history_tests_job).
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=Translator(),
        name="dbt_build",
        exclude="tag:history",
    )
    def dbt_build(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        manifest = json.loads(project.manifest_path.read_text())
        with warehouse_lock(cfg.destination, "dbt build"):
            # A scheduled job builds only what has new data (orchestration.build_plan); assets
            # a person materializes by hand are built as asked.
            planned = context.run.tags.get(PLANNED_TAG) == "true"
            selected = selected_nodes(context, manifest)
            plan, previous = plan_build(
                cfg.destination, manifest, list(selected), everything=not planned
            )
            context.log.info(plan.summary())
            yield from unchanged(context, manifest, plan, selected)
            if plan.nothing_new:
                record_build(cfg.destination, manifest, plan, previous, [])
                return
            excluded = plan.exclude(manifest)
            args = ["build", *dbt_vars(), *(["--exclude", " ".join(excluded)] if excluded else [])]
            invocation = dbt.cli(args, context=context)
            try:
                yield from invocation.stream()
            finally:  # what did build is current, even when a node failed
                results_file = invocation.target_path / "run_results.json"
                results = json.loads(results_file.read_text()) if results_file.exists() else {}
                record_build(cfg.destination, manifest, plan, previous, results.get("results", []))
            breaches = dq_breaches(cfg)
        if breaches:
            alerts.send(
                alerts.make_alert(
                    "dq_breach",
                    context.run.run_id,
                    "dq_rule_results",
                    "; ".join(breaches),
                    run_link(cfg, context.run.run_id),
                )
            )

    return dbt_build


def history_tests_job(cfg: Settings, sql_sources: Sequence[str]) -> dg.JobDefinition:
    """The weekly job: first the SQL sources reconciled with raw (`python -m loaders.run
    --reconcile`: the safety net under the change streams), then every dbt test on every row
    (`dbt test --vars '{test_history: true}'`): what the daily build's tests leave out, the
    tests tagged history and the rows older builds wrote."""

    @dg.op(name="reconcile_sources")
    def reconcile_sources() -> dg.Output[None]:
        started = datetime.now(UTC)
        results = load_sources(dict.fromkeys(sql_sources), False, cfg.destination, reconcile=True)
        write_audit(results, cfg.destination, started)
        failed = [r for r in results if r.error]
        if failed:
            raise dg.Failure(
                description=failed[0].error,
                metadata={"errors": "\n".join(r.error or "" for r in failed)},
                allow_retries=False,
            )
        return dg.Output(
            None,
            metadata={
                "rows_repaired": sum(r.rows_loaded + r.rows_deleted for r in results),
                "tables": len(results),
            },
        )

    @dg.op(name="dbt_test_history", ins={"after": dg.In(dg.Nothing)})
    def dbt_test_history(dbt: DbtCliResource) -> dg.Output[None]:
        with warehouse_lock(cfg.destination, "dbt test (history)"):
            invocation = dbt.cli(["test", *dbt_vars(test_history=True)]).wait()
        results = invocation.get_artifact("run_results.json")["results"]
        return dg.Output(None, metadata={"tests": len(results)})

    @dg.job(
        name="history_tests",
        description=(
            "The SQL sources reconciled with raw, then every dbt test on every row of history "
            "(weekly; the daily build tests the day)."
        ),
    )
    def history_tests() -> None:
        dbt_test_history(after=reconcile_sources())

    return history_tests


def docs_asset(cfg: Settings, dbt_build: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey("dbt_docs"),
        group_name="docs",
        kinds={"dbt"},
        deps=list(dbt_build.keys),
        description="`dbt docs generate`: the catalog and lineage behind `dbt docs serve`.",
    )
    def dbt_docs(dbt: DbtCliResource) -> dg.MaterializeResult[None]:
        with warehouse_lock(cfg.destination, "dbt docs"):
            invocation = dbt.cli(["docs", "generate", *dbt_vars()]).wait()
        target = invocation.target_path
        return dg.MaterializeResult(
            metadata={"catalog": dg.MetadataValue.path(str(target / "catalog.json"))}
        )

    return dbt_docs


def reports_asset(cfg: Settings, dbt_build: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey("reports"),
        group_name="reports",
        kinds={"html"},
        deps=list(dbt_build.keys),
        description=(
            "`python -m reports build`: the report pages (business, data quality, pipeline "
            "health), static files next to the warehouse (SHOPSPHERE_REPORTS_DIR)."
        ),
    )
    def report_pages() -> dg.MaterializeResult[None]:
        from reports.build import build
        from reports.source import Source

        target = ROOT / cfg.dbt_target_path  # an absolute target path wins
        started = time.perf_counter()
        with warehouse_lock(cfg.destination, "reports"):
            source = (
                Source.snowflake(target)
                if cfg.destination == "snowflake"
                else Source.duckdb(duckdb_path(), target)
            )
            try:
                written = build(source, Path(cfg.reports_dir))
            finally:
                source.close()
        return dg.MaterializeResult(
            metadata={
                "index": dg.MetadataValue.path(str(written[1])),
                "pages": len(written) - 1,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )

    return report_pages
