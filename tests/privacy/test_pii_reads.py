"""On DuckDB, where no masking policy guards a column, no mart and no report page reads clear-text
PII: a mart names no PII column of its parents (they hand it keyed hashes), marts and the data-quality
tables hold no PII column, and the report pages and the semantic layer read only marts, the
data-quality tables and seeds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.dbt import ROOT

MASKED = {"email", "name", "phone", "address"}
READABLE_SCHEMAS = {"marts", "data_quality", "seeds"}


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A target folder holding dbt's parse of the project (manifest and semantic manifest)."""
    tmp = tmp_path_factory.mktemp("parsed")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "parse", "--quiet", "--target-path", str(tmp)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DBT_PROFILES_DIR": str(ROOT), "HOME": str(tmp)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return tmp


def _manifest(tmp: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((tmp / "manifest.json").read_text())
    return manifest


def _pii_columns(node: dict[str, Any]) -> set[str]:
    return {
        c["name"].lower()
        for c in node.get("columns", {}).values()
        if {**c.get("meta", {}), **c.get("config", {}).get("meta", {})}.get("pii") in MASKED
    }


def pii_read(manifest: dict[str, Any], node_id: str) -> list[str]:
    """`parent.column` for each PII column of a direct parent that the node's SQL names."""
    node = manifest["nodes"][node_id]
    code = node["raw_code"].lower()
    found = []
    for parent_id in node["depends_on"]["nodes"]:
        parent = manifest["nodes"].get(parent_id) or manifest["sources"].get(parent_id)
        for column in sorted(_pii_columns(parent or {})):
            if re.search(rf"(?<![\w]){re.escape(column)}(?![\w])", code):
                found.append(f"{parent_id.split('.')[-1]}.{column}")
    return found


def test_marts_read_no_pii_column_and_hold_none(parsed: Path) -> None:
    manifest = _manifest(parsed)
    models = {i: n["schema"] for i, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    marts = [i for i, schema in models.items() if schema == "marts"]
    assert len(marts) >= 10
    for node_id in marts:
        assert pii_read(manifest, node_id) == [], node_id
    # The data-quality tables read emails to judge them (invalid, duplicated) and keep only
    # the record's id and the rule: like the marts, they hold no PII column.
    for node_id in [i for i, schema in models.items() if schema in ("marts", "data_quality")]:
        assert _pii_columns(manifest["nodes"][node_id]) == set(), node_id
    # The check can fail: a mart that selected an email in clear would be found.
    node = dict(manifest["nodes"]["model.shopsphere.dim_customers"])
    manifest["nodes"]["model.shopsphere.dim_customers"] = {
        **node,
        "raw_code": node["raw_code"] + "\n-- select customers.email_normalized",
    }
    assert pii_read(manifest, "model.shopsphere.dim_customers") != []


def test_report_pages_and_the_semantic_layer_read_only_marts(parsed: Path) -> None:
    manifest = _manifest(parsed)
    schema = {n["name"]: n["schema"] for n in manifest["nodes"].values() if "schema" in n}
    semantic = json.loads((parsed / "semantic_manifest.json").read_text())
    relations = {m["node_relation"]["schema_name"] for m in semantic["semantic_models"]}
    assert relations == {"marts"}
    named = set()
    for path in (ROOT / "reports").rglob("*.py"):  # the pages are a package
        named |= set(re.findall(r"relation\(\s*['\"](\w+)['\"]\s*\)", path.read_text()))
    assert "dq_rule_results" in named
    assert {schema[n] for n in named} <= READABLE_SCHEMAS, {n: schema[n] for n in named}
