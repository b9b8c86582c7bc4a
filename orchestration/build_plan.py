"""Build only what has new data: `dbt build` narrowed to the nodes whose inputs changed since
they were last built.

    python -m orchestration.build_plan [--dry-run] [-- <dbt build arguments>]

The daily and intraday jobs build through it (orchestration.transform), and so can anyone: it
prints the plan, runs `dbt build` with `--exclude` naming what has nothing new, and keeps what it
built in `loader_audit.dbt_node_marks` (one row per model, seed and snapshot). A plain
`dbt build` stays the full build; the next planned build then rebuilds at most what changed
since the marks (never less than that).

A model, seed or snapshot is built when
- it has no mark, or its code changed: its file, its config and columns, the macros it calls
  (through any depth), or dbt's version;
- a raw table it reads committed rows, or deleted some, since it was last current
  (`loader_audit.load_runs`; a raw schema with a load the audit does not account for counts as
  changed whole: a load whose audit row could not be written is never missed);
- a node it reads is built now, or was built after it was last current (a build that selected
  only part of the graph);
- it reads the clock (`run_timestamp()`, through any macro) and the clock's UTC day moved on
  since it was last built: "in the future" and "lapsed" are judged at least once a day.

Everything else is excluded, with its tests, and a build with nothing new does not start dbt.
After the build, every node of the plan that succeeded with no failed test is current as of
the build's start; one that failed or was skipped keeps its old mark and is built next time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loaders.shared.report import append_rows, audit_client, query_rows
from reports.source import MARKS_TABLE, utc

from .manifest_graph import BUILDABLE, buildable, in_order, node_codes, relation, source_tables

MARK_COLUMNS: dict[str, str] = {
    "unique_id": "varchar",
    "code": "varchar",  # a hash of what the node's SQL is made of (node_codes)
    "current_as_of": "timestamp",  # the node holds every source change committed before this
    "built_at": "timestamp",  # the start of the build that last rebuilt it
    "built_clock": "timestamp",  # the clock it was last built with (run_timestamp())
}
EPOCH = datetime(1900, 1, 1, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class Mark:
    code: str
    current_as_of: datetime
    built_at: datetime
    built_clock: datetime


@dataclasses.dataclass
class Plan:
    """What one build does: `build` (unique_id -> why) among `selected`, the rest excluded."""

    selected: list[str]
    build: dict[str, str]
    started: datetime
    clock: datetime
    codes: dict[str, str]
    skipped_sources: list[str]  # dbt source selectors whose raw tables have nothing new

    @property
    def nothing_new(self) -> bool:
        return not self.build

    def exclude(self, manifest: Mapping[str, Any]) -> list[str]:
        """`--exclude` values: the selected nodes with nothing new, and the unchanged sources
        (their tests go with them)."""
        nodes = manifest["nodes"]
        names = sorted(nodes[uid]["name"] for uid in self.selected if uid not in self.build)
        return [*names, *self.skipped_sources]

    def summary(self) -> str:
        if self.nothing_new:
            return f"build plan: nothing new among {len(self.selected)} nodes; dbt is not run"
        reasons: dict[str, int] = {}
        for why in self.build.values():
            reasons[why] = reasons.get(why, 0) + 1
        said = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items(), key=lambda r: -r[1]))
        return (
            f"build plan: {len(self.build)} of {len(self.selected)} nodes to build ({said}); "
            f"{len(self.selected) - len(self.build)} with nothing new excluded"
        )


def make_plan(
    manifest: Mapping[str, Any],
    marks: Mapping[str, Mark],
    changed: Mapping[tuple[str, str], datetime],
    started: datetime,
    clock: datetime,
    selected: Iterable[str] | None = None,
    existing: set[tuple[str, str, str]] | None = None,
    everything: bool = False,
) -> Plan:
    """Which of the selected nodes (default: every model, seed and snapshot) to build.

    `changed`: (source, table) -> when a load last changed that raw table; the key (source, "*")
    stands for every table of the source. `existing`: the warehouse's relations (database,
    schema, name, lowercase); a node whose relation is missing is built whatever its mark says.
    `everything`: build every selected node (what a person asked for by hand)."""
    nodes = buildable(manifest)
    scope = [uid for uid in (selected if selected is not None else nodes) if uid in nodes]
    codes, clocked = node_codes(manifest)
    sources = source_tables(manifest)
    parents = manifest.get("parent_map", {})
    build: dict[str, str] = {}
    for uid in in_order(manifest, scope):
        mark = marks.get(uid)
        why = ""
        if mark is None:
            why = "never built"
        elif existing is not None and relation(nodes[uid]) not in (existing | {None}):
            why = "missing in the warehouse"
        elif mark.code != codes[uid]:
            why = "code changed"
        else:
            for parent in parents.get(uid, []):
                if parent in build:
                    why = "upstream rebuilt"
                elif parent in sources:
                    source, table = sources[parent]
                    when = max(
                        changed.get((source, table), EPOCH), changed.get((source, "*"), EPOCH)
                    )
                    if when > mark.current_as_of:
                        why = "new raw data"
                elif parent in marks and marks[parent].built_at > mark.built_at:
                    why = "upstream rebuilt earlier"
                if why:
                    break
            if not why and uid in clocked and clock.date() > mark.built_clock.date():
                why = "the clock's day moved"
        if everything and not why:
            why = "asked for"
        if why:
            build[uid] = why
    # A source's tests go with it: exclude the sources none of whose nodes is built.
    read: set[str] = {p for uid in build for p in parents.get(uid, []) if p in sources}
    names = manifest.get("sources", {})
    skipped = sorted(
        f"source:{names[uid]['source_name']}.{names[uid]['name']}"
        for uid in sources
        if uid not in read
    )
    return Plan(scope, build, started, clock, codes, skipped)


def outcome(manifest: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> set[str]:
    """The nodes a build made current: built with success, and no test on them failed."""
    built = {
        r["unique_id"]
        for r in results
        if r.get("status") == "success" and r["unique_id"].split(".")[0] in BUILDABLE
    }
    for r in results:
        if r["unique_id"].startswith("test.") and r.get("status") in ("fail", "error"):
            node = manifest["nodes"].get(r["unique_id"], {})
            built -= set(node.get("depends_on", {}).get("nodes", []))
    return built


# -- the warehouse side: marks and the loads' audit ------------------------------------------


def read_marks(client: Any) -> dict[str, Mark]:
    rows = query_rows(
        client,
        f"select unique_id, code, current_as_of, built_at, built_clock "
        f"from loader_audit.{MARKS_TABLE}",
    )
    return {
        uid: Mark(code, utc(current) or EPOCH, utc(built) or EPOCH, utc(clock) or EPOCH)
        for uid, code, current, built, clock in rows
    }


def read_changes(client: Any, sources: Iterable[str]) -> dict[tuple[str, str], datetime]:
    """(source, table) -> the end of the newest load that changed the raw table; (source, "*")
    when a raw schema holds a load newer than every audit row of its source."""
    changed: dict[tuple[str, str], datetime] = {}
    for source, table, when in query_rows(
        client,
        "select source_name, table_name, max(run_finished_at) from loader_audit.load_runs "
        "where rows_loaded + rows_deleted > 0 group by source_name, table_name",
    ):
        changed[(source, table)] = utc(when) or EPOCH
    audited = dict(
        query_rows(
            client,
            "select source_name, max(run_finished_at) from loader_audit.load_runs "
            "group by source_name",
        )
    )
    for source in sorted(set(sources)):
        rows = query_rows(client, f"select max(inserted_at) from raw_{source}._dlt_loads")
        newest = utc(rows[0][0]) if rows else None
        if newest is not None and newest > (utc(audited.get(source)) or EPOCH):
            changed[(source, "*")] = newest
    return changed


def read_relations(
    client: Any, destination: str, manifest: Mapping[str, Any]
) -> set[tuple[str, str, str]]:
    """The relations the warehouse holds in the schemas the dbt nodes live in."""
    wanted: dict[str, set[str]] = {}
    for node in buildable(manifest).values():
        if relation(node) is not None:
            wanted.setdefault(str(node.get("database")), set()).add(str(node["schema"]).lower())
    found: set[tuple[str, str, str]] = set()
    for database, schemas in sorted(wanted.items()):
        listed = ", ".join(f"'{s}'" for s in sorted(schemas))
        if destination == "duckdb":  # one information_schema for every attached file
            catalog = (
                f"information_schema.tables where lower(table_catalog) = '{database.lower()}' and"
            )
        else:  # Snowflake: the database's own, unquoted when it can be (folded as dbt's is)
            simple = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", database)
            named = database if simple else '"' + database + '"'
            catalog = f"{named}.information_schema.tables where"
        rows = query_rows(
            client,
            f"select table_schema, table_name from {catalog} lower(table_schema) in ({listed})",
        )
        found |= {(database.lower(), str(s).lower(), str(t).lower()) for s, t in rows}
    return found


def new_marks(
    manifest: Mapping[str, Any], plan: Plan, current: set[str], previous: Mapping[str, Mark]
) -> dict[str, Mark]:
    """The marks a build leaves on the plan's nodes: one built and current gets every field
    anew, one with nothing new is current as of the build's start (it has read every change of
    its own inputs up to then). A failed or skipped node keeps its old mark."""
    marks: dict[str, Mark] = {}
    for uid in in_order(manifest, plan.selected):
        old = previous.get(uid)
        if uid in plan.build and uid in current:
            marks[uid] = Mark(plan.codes[uid], plan.started, plan.started, plan.clock)
        elif uid not in plan.build and old is not None:
            marks[uid] = dataclasses.replace(old, current_as_of=plan.started)
    return marks


def write_marks(client: Any, destination: str, marks: Mapping[str, Mark]) -> int:
    """Replace the nodes' rows of loader_audit.dbt_node_marks, in one transaction."""
    if not marks:
        return 0
    rows = [{**dataclasses.asdict(mark), "unique_id": uid} for uid, mark in marks.items()]
    table = client.make_qualified_table_name(MARKS_TABLE)
    with client.begin_transaction():
        append_rows(client, MARKS_TABLE, MARK_COLUMNS, [], destination)  # the table, if new
        listed = ", ".join(["%s"] * len(rows))
        client.execute_sql(f"delete from {table} where unique_id in ({listed})", *marks)
        append_rows(client, MARKS_TABLE, MARK_COLUMNS, rows, destination)
    return len(rows)


# -- one planned build -----------------------------------------------------------------------


def run_clock() -> datetime:
    """The clock of run_timestamp(): dbt's var as_of (SHOPSPHERE_AS_OF here), or now."""
    from .settings import as_of

    clock = as_of()
    return utc(datetime.fromisoformat(clock)) if clock else datetime.now(UTC)  # type: ignore[return-value]


def plan_build(
    destination: str,
    manifest: Mapping[str, Any],
    selected: Iterable[str] | None = None,
    everything: bool = False,
) -> tuple[Plan, dict[str, Mark]]:
    """Read the marks and the loads' audit from the warehouse and plan the build."""
    started = datetime.now(UTC)  # before the audit is read: a load ending later counts next time
    loaders = {source for source, _ in source_tables(manifest).values()}
    with audit_client(destination) as client:
        marks = read_marks(client)
        changed = read_changes(client, loaders)
        existing = read_relations(client, destination, manifest)
    plan = make_plan(manifest, marks, changed, started, run_clock(), selected, existing, everything)
    return plan, marks


def record_build(
    destination: str,
    manifest: Mapping[str, Any],
    plan: Plan,
    previous: Mapping[str, Mark],
    results: Sequence[Mapping[str, Any]],
) -> int:
    current = outcome(manifest, results)
    with audit_client(destination) as client:
        if not client.has_dataset():
            client.create_dataset()
        return write_marks(client, destination, new_marks(manifest, plan, current, previous))


PROJECT_INPUTS = ("models", "macros", "seeds", "snapshots", "tests", "dbt_project.yml")


def manifest_is_current(root: Path, manifest: Path) -> bool:
    """Whether the manifest is newer than every file of the dbt project (no parse needed)."""
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    for name in PROJECT_INPUTS:
        path = root / name
        files = path.rglob("*") if path.is_dir() else [path]
        if any(f.stat().st_mtime > built for f in files if f.is_file()):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, build nothing")
    parser.add_argument("dbt_args", nargs="*", help="after --: more `dbt build` arguments")
    args = parser.parse_args(argv)
    from loaders.shared.locks import warehouse_lock

    from .settings import ROOT, dbt_vars, settings

    cfg = settings()
    target = ROOT / cfg.dbt_target_path  # an absolute path wins
    dbt = cfg.dbt_executable
    with warehouse_lock(cfg.destination, "dbt build (planned)"):
        parse = [dbt, "parse", "--quiet"]
        if (
            not manifest_is_current(ROOT, target / "manifest.json")
            and subprocess.run(parse, cwd=ROOT, check=False).returncode
        ):
            print("build plan: `dbt parse` failed; nothing was built", file=sys.stderr)
            return 1
        manifest = json.loads((target / "manifest.json").read_text())
        plan, previous = plan_build(cfg.destination, manifest)
        print(plan.summary(), file=sys.stderr)
        if args.dry_run:
            for uid, why in plan.build.items():
                print(f"{uid.split('.')[-1]}: {why}")
            return 0
        if plan.nothing_new:
            record_build(cfg.destination, manifest, plan, previous, [])
            return 0
        command = [dbt, "build", *dbt_vars()]
        excluded = plan.exclude(manifest)
        command += [*args.dbt_args, *(["--exclude", " ".join(excluded)] if excluded else [])]
        (target / "run_results.json").unlink(missing_ok=True)
        done = subprocess.run(command, cwd=ROOT, check=False)
        results_file = target / "run_results.json"
        results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
        record_build(cfg.destination, manifest, plan, previous, results)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
