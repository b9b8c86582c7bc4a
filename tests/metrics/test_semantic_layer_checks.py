"""The semantic layer's own check (scripts/validate-metrics: dbt parse, `mf validate-configs`, the
SQL of every metric). pre-commit runs it in the test command; here it must pass against a built
warehouse and fail on a metric broken on purpose."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.dbt import ROOT, BuiltWorld

CHECK = str(ROOT / "scripts" / "validate-metrics")


def project_copy(tmp: Path) -> Path:
    """The dbt project with a models folder of its own (the rest linked)."""
    project = tmp / "project"
    project.mkdir()
    for name in ("dbt_project.yml", "macros", "seeds", "snapshots", "analyses"):
        (project / name).symlink_to(ROOT / name)
    (project / "tests").mkdir()
    (project / "tests" / "dbt").symlink_to(ROOT / "tests" / "dbt")
    shutil.copytree(ROOT / "models", project / "models")
    return project


def run_check(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [CHECK, *args],
        env={
            **(env or os.environ),
            "DBT_PROJECT_DIR": str(project),
            "DBT_LOG_PATH": str(project / "logs"),
            "DBT_TARGET_PATH": str(project / "target"),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.mysql
@pytest.mark.postgres
def test_metricflow_validates_every_definition_against_the_built_warehouse(
    built_warehouse: BuiltWorld, tmp_path: Path
) -> None:
    env = {**built_warehouse.dbt.env, "DBT_TARGET": "ci"}
    code, output = run_check(project_copy(tmp_path), env=env)
    assert code == 0, output[-4000:]
    assert "Successfully validated metrics against data warehouse" in output, output[-4000:]
    assert "metrics compile" in output


# One breakage dbt's parse catches, one only MetricFlow's query resolution does.
BROKEN = {
    "unknown_measure": ("type_params:\n      measure: shipments", "shipments"),
    "wrong_entity": (
        "type_params:\n      measure: orders\n"
        "    filter: |\n      {{ Dimension('shipment__channel') }} = 'web'",
        "shipment__channel",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BROKEN))
def test_a_broken_metric_fails_the_check(breakage: str, tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    body, named = BROKEN[breakage]
    with (project / "models" / "marts" / "core" / "_core__semantic_models.yml").open("a") as f:
        f.write(
            f"\n  - name: broken_metric\n    label: Broken\n    description: {breakage}.\n"
            f"    type: simple\n    {body}\n"
        )
    code, output = run_check(project, "--skip-dw")
    assert code != 0, output[-3000:]
    assert named in output, output[-3000:]
