"""Slim CI on DuckDB (scripts/slim_ci.py): after a change to one model, a pull request builds
exactly that model and its children, defers the rest to production, and gets what a full
build of the changed project gets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from tests.fixtures.dbt import ROOT, BuiltWorld

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]

PROJECT_PARTS = [
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "macros",
    "seeds",
    "snapshots",
    "analyses",
    "tests/dbt",
    "loaders",  # the dbt-duckdb plugin that sets the PII key (profiles.yml)
]
CHANGED = "int_orders_classified"
# Columns that differ between any two builds by design.
PER_BUILD_COLUMNS = {"invocation_id", "_built_at"}


def copy_project(dest: Path) -> Path:
    for part in PROJECT_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
        else:
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / part)
    return dest


def change_one_model(project: Path) -> None:
    """An additive change to an intermediate model with many children."""
    path = project / "models/intermediate/core" / f"{CHANGED}.sql"
    sql = path.read_text()
    marker = "        orders.order_id,\n"
    assert marker in sql
    path.write_text(sql.replace(marker, marker + "        orders.order_status,\n", 1))


def descendants(manifest: dict, node: str) -> set[str]:
    found, stack = set(), [node]
    while stack:
        for child in manifest["child_map"].get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def read_relation(attach: dict[str, Path], relation: str) -> pa.Table:
    """A relation's rows (less per-build columns), read with the given files attached by name."""
    with duckdb.connect() as con:
        con.execute("set timezone = 'UTC'")
        for alias, path in attach.items():
            con.execute(f"attach '{path}' as \"{alias}\" (read_only)")
        rel = con.sql(f"select * from {relation}")
        keep = [c for c in rel.columns if c not in PER_BUILD_COLUMNS]
        return rel.select(*[f'"{c}"' for c in keep]).fetch_arrow_table()


def slim(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "slim_ci.py"),
            *args,
            "--project-dir",
            str(project),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    return done


def test_a_pull_request_builds_only_the_changed_model_and_its_children(
    built_warehouse: BuiltWorld, tmp_path: Path
) -> None:
    world = built_warehouse
    project = copy_project(tmp_path / "project")
    env = {
        **world.dbt.env,
        "DBT_PROFILES_DIR": str(project),
        "DBT_TARGET_PATH": str(tmp_path / "pr_target"),
        "DBT_LOG_PATH": str(tmp_path / "pr_target" / "logs"),
    }
    prod, manifest = publish_production(world, project, env, tmp_path)

    change_one_model(project)
    pr_file = tmp_path / "pr.duckdb"
    common = ["--pr", "7", "--prod-warehouse", str(prod), "--pr-warehouse", str(pr_file)]
    common += ["--state", str(tmp_path / "prod-artifacts"), "--vars", world.vars]
    slim(project, env, "build", *common)

    results = json.loads((tmp_path / "pr_target" / "run_results.json").read_text())["results"]
    changed = f"model.shopsphere.{CHANGED}"
    expected_models = {changed} | {
        n for n in descendants(manifest, changed) if n.startswith(("model.", "snapshot.", "seed."))
    }
    assert_only_the_slice_was_built_and_tested(results, manifest, expected_models)

    # The unchanged parents were deferred to production, not rebuilt: the PR file holds only
    # the slice, in its own schemas.
    pr_tables = tables_built_in(pr_file)
    assert {name for _, name in pr_tables} == {n.split(".")[-1] for n in expected_models}
    assert all(schema.startswith("pr_7_") for schema, _ in pr_tables)

    # A full build of the changed project, from production's raw data, gives the same rows.
    full = full_build(world, project, env, prod, tmp_path)
    assert_same_rows(pr_tables, pr_file, prod, full)

    # Clean-up drops the pull request's schemas and nothing else.
    slim(project, env, "clean", *common)
    with duckdb.connect(str(pr_file), read_only=True) as con:
        left = con.sql(
            "select schema_name from information_schema.schemata where catalog_name = 'pr' and schema_name like 'pr_7%'"
        ).fetchall()
    assert left == []
    with duckdb.connect(str(prod), read_only=True) as con:
        assert con.sql("select count(*) from marts.fct_orders").fetchone()[0] > 0


def publish_production(
    world: BuiltWorld, project: Path, env: dict[str, str], tmp_path: Path
) -> tuple[Path, dict[str, Any]]:
    """Production: the built warehouse (a copy, same file name, so the same database name) and
    its manifest, published to the artifacts folder, without compiled SQL (on Snowflake it
    holds the PII key's pads)."""
    prod_dir = tmp_path / "prod"
    prod_dir.mkdir()
    prod = prod_dir / Path(world.dbt.warehouse).name
    shutil.copy2(world.dbt.warehouse, prod)
    artifacts = tmp_path / "prod-artifacts"
    slim(
        project,
        env,
        "publish",
        "--target-path",
        str(world.dbt.target_dir),
        "--state",
        str(artifacts),
    )
    manifest: dict[str, Any] = json.loads((artifacts / "manifest.json").read_text())
    built = json.loads((world.dbt.target_dir / "manifest.json").read_text())
    assert any(n.get("compiled_code") for n in built["nodes"].values())
    results = json.loads((artifacts / "run_results.json").read_text())
    assert not any(
        n.get("compiled_code") for n in [*manifest["nodes"].values(), *results["results"]]
    )
    return prod, manifest


def assert_only_the_slice_was_built_and_tested(
    results: list[dict[str, Any]], manifest: dict[str, Any], expected_models: set[str]
) -> None:
    failed = {
        r["unique_id"]: r["status"]
        for r in results
        if r["status"] not in ("success", "pass", "warn", "no-op")
    }
    assert not failed
    ran = {r["unique_id"] for r in results}
    built_models = {n for n in ran if n.startswith(("model.", "snapshot.", "seed."))}
    assert built_models == expected_models
    assert len(expected_models) >= 5  # marts included: a real slice, not one view
    # Every test that ran tests something that was rebuilt.
    for result in results:
        if result["unique_id"].startswith(("test.", "unit_test.")):
            parents = (
                manifest["nodes"]
                .get(result["unique_id"], {})
                .get("depends_on", {})
                .get("nodes", [])
            )
            assert not parents or set(parents) & expected_models, result["unique_id"]


def tables_built_in(pr_file: Path) -> set[tuple[str, str]]:
    """(schema, table) of the models in the PR file: test_failures holds the stored rows of
    the tests that ran, dbt_audit the build's own record from the on-run-end hook."""
    with duckdb.connect(str(pr_file), read_only=True) as con:
        pr_tables = {
            (schema, name)
            for schema, name in con.sql(
                "select table_schema, table_name from information_schema.tables where table_catalog = 'pr'"
            ).fetchall()
        }
    return {(s, n) for s, n in pr_tables if not s.endswith(("test_failures", "dbt_audit"))}


def full_build(
    world: BuiltWorld, project: Path, env: dict[str, str], prod: Path, tmp_path: Path
) -> Path:
    """`dbt build --full-refresh` of the changed project on a copy of production."""
    full_dir = tmp_path / "full"
    full_dir.mkdir()
    full = full_dir / prod.name
    shutil.copy2(prod, full)
    full_env = {
        **env,
        "SHOPSPHERE_DUCKDB_PATH": str(full),
        "DBT_TARGET_PATH": str(tmp_path / "full_target"),
        "DBT_LOG_PATH": str(tmp_path / "full_target" / "logs"),
        "DBT_SCHEMA": "main",
    }
    dbt = str(Path(sys.executable).parent / "dbt")
    done = subprocess.run(
        [dbt, "build", "--target", "ci", "--full-refresh", "--vars", world.vars],
        cwd=project,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    return full


def assert_same_rows(
    pr_tables: set[tuple[str, str]], pr_file: Path, prod: Path, full: Path
) -> None:
    """Views refer to their database by name (pr, warehouse), so each side is read in a
    connection where its names resolve: the PR file beside production, the full build alone."""
    pr_side = {"pr": pr_file, prod.stem: prod}
    full_side = {full.stem: full}
    for schema, name in sorted(pr_tables):
        pr_rows = read_relation(pr_side, f'pr."{schema}"."{name}"')
        full_rows = read_relation(
            full_side, f'{full.stem}."{schema.removeprefix("pr_7_")}"."{name}"'
        )
        with duckdb.connect() as con:
            con.register("pr_rows", pr_rows)
            con.register("full_rows", full_rows)
            assert pr_rows.num_rows == full_rows.num_rows, name
            differing = con.sql(
                "select count(*) from ((select * from pr_rows except all select * from full_rows) "
                "union all (select * from full_rows except all select * from pr_rows))"
            ).fetchone()
            assert differing == (0,), name
