"""What a build plan reads from dbt's manifest: the models, seeds and snapshots it can build,
a hash of each one's code (its file, config, columns and every macro it calls, through any
depth), which of them read the clock, their relations, their order, and the raw tables the dbt
sources stand for."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from loaders.shared.types import DELETED_KEYS_PREFIX

BUILDABLE = ("model", "seed", "snapshot")
CLOCK_MACRO = "macro.shopsphere.run_timestamp"


def buildable(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in BUILDABLE and node.get("config", {}).get("enabled", True)
    }


CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\(")
QUALIFIED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*\(")
DISPATCH_PREFIXES = ("", "default__", "duckdb__", "snowflake__")


def _called(text: str, own: Mapping[str, str], macros: Mapping[str, Any]) -> set[str]:
    """The project's macros a text calls by name, with their adapter implementations
    (`adapter.dispatch('x')` calls `default__x` by string). Read from the text itself: dbt's
    `depends_on.macros` differs between a full and a partial parse (macros called inside
    `is_incremental()` blocks), so it cannot be the only record of what a node calls."""
    names = set(CALL.findall(text or "")) | set(re.findall(r"dispatch\(\s*'(\w+)'", text or ""))
    found = {own[p + n] for n in names for p in DISPATCH_PREFIXES if p + n in own}
    qualified = {f"macro.{pkg}.{n}" for pkg, n in QUALIFIED.findall(text or "")}  # dbt.dateadd(
    return found | {uid for uid in qualified if uid in macros}


def _macro_closure(manifest: Mapping[str, Any], own: Mapping[str, str]) -> dict[str, set[str]]:
    """macro -> every macro it calls, through any depth (itself included)."""
    macros = manifest.get("macros", {})
    done: dict[str, set[str]] = {}

    def visit(uid: str, path: frozenset[str]) -> set[str]:
        if uid in done:
            return done[uid]
        seen = {uid}
        macro = macros.get(uid, {})
        calls = set(macro.get("depends_on", {}).get("macros", []))
        for dep in calls | _called(macro.get("macro_sql", ""), own, macros):
            if dep not in path:
                seen |= visit(dep, path | {uid})
        done[uid] = seen
        return seen

    for uid in macros:
        visit(uid, frozenset())
    return done


def node_codes(manifest: Mapping[str, Any]) -> tuple[dict[str, str], set[str]]:
    """unique_id -> a hash of the node's code; and the nodes that read the clock."""
    macros = manifest.get("macros", {})
    project = manifest.get("metadata", {}).get("project_name")
    own = {m.get("name", ""): uid for uid, m in macros.items() if m.get("package_name") == project}
    closure = _macro_closure(manifest, own)
    version = manifest.get("metadata", {}).get("dbt_version", "")
    codes: dict[str, str] = {}
    clock: set[str] = set()
    for uid, node in buildable(manifest).items():
        called: set[str] = set()
        direct = set(node.get("depends_on", {}).get("macros", []))
        for macro in direct | _called(node.get("raw_code", ""), own, macros):
            called |= closure.get(macro, {macro})
        if CLOCK_MACRO in called:
            clock.add(uid)
        columns = {
            name: [col.get("data_type"), col.get("constraints")]
            for name, col in sorted(node.get("columns", {}).items())
        }
        text = json.dumps(
            {
                "checksum": node.get("checksum", {}).get("checksum"),
                "config": node.get("config"),
                "columns": columns,
                "macros": {m: macros.get(m, {}).get("macro_sql", "") for m in sorted(called)},
                "dbt": version,
            },
            sort_keys=True,
            default=str,
        )
        codes[uid] = hashlib.sha256(text.encode()).hexdigest()[:32]
    return codes, clock


def in_order(manifest: Mapping[str, Any], uids: Iterable[str]) -> list[str]:
    """The nodes parents first."""
    wanted = set(uids)
    parents = manifest.get("parent_map", {})
    order: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen:
            return
        seen.add(uid)
        for parent in parents.get(uid, []):
            if parent in wanted:
                visit(parent)
        order.append(uid)

    for uid in sorted(wanted):
        visit(uid)
    return order


def relation(node: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(database, schema, name), lowercase; None for a node with no relation (ephemeral)."""
    if node.get("config", {}).get("materialized") == "ephemeral":
        return None
    name = node.get("alias") or node["name"]
    return (str(node.get("database")).lower(), str(node["schema"]).lower(), str(name).lower())


def source_tables(manifest: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """dbt source unique_id -> (loader source, raw table), from its raw schema `raw_<source>`;
    a table's deleted keys (`_deleted_<table>`) count as the table, which they load with."""
    out = {}
    for uid, node in manifest.get("sources", {}).items():
        schema = str(node.get("schema", "")).lower()
        if schema.startswith("raw_"):
            table = str(node.get("identifier") or node["name"]).removeprefix(DELETED_KEYS_PREFIX)
            out[uid] = (schema.removeprefix("raw_"), table)
    return out
