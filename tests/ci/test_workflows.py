"""The GitHub Actions workflows: valid against GitHub's workflow schema, and doing what the
docs/production.md says (slim CI with deferral and a fallback, production publishing its manifest to its
own folder, clean-up of pull-request schemas)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    return document


def steps_text(workflow: dict[str, Any], job: str) -> str:
    return "\n".join(str(step.get("run", "")) for step in workflow["jobs"][job]["steps"])


def test_there_are_workflows_for_pull_requests_production_and_clean_up() -> None:
    assert {p.name for p in WORKFLOWS} >= {
        "pull-request.yml",
        "production.yml",
        "pull-request-cleanup.yml",
    }


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid_against_githubs_schema(path: Path) -> None:
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    steps:\n      - run: echo hi\n")  # no runs-on
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(broken),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0


def test_pull_requests_lint_then_build_only_what_changed_deferring_to_production() -> None:
    workflow = load("pull-request.yml")
    assert "pull_request" in workflow[True]  # PyYAML reads the key `on` as True
    jobs = workflow["jobs"]
    assert "pre-commit run --all-files" in steps_text(workflow, "lint")
    assert jobs["slim-build"]["needs"] == "lint"
    script = steps_text(workflow, "slim-build")
    assert "--select state:modified+ --defer --state prod-artifacts" in script
    assert "if [ -f prod-artifacts/manifest.json ]" in script and "dbt build --fail-fast" in script
    env = jobs["slim-build"]["env"]
    assert env["DBT_SCHEMA"] == "pr_${{ github.event.pull_request.number }}"
    assert env["DBT_TARGET"] == "pr"
    assert "bash .ci/run" in steps_text(workflow, "test")


def test_production_builds_and_publishes_its_artifacts_outside_target() -> None:
    workflow = load("production.yml")
    build = steps_text(workflow, "build")
    assert ".venv/bin/dbt build" in build
    assert "scripts/slim_ci.py publish --state prod-artifacts" in build
    uploads = [
        s for s in workflow["jobs"]["build"]["steps"] if "upload-artifact" in s.get("uses", "")
    ]
    assert uploads and uploads[0]["with"]["name"] == "prod-artifacts"
    assert uploads[0]["with"]["path"] == "prod-artifacts/"
    assert "--destination snowflake" in steps_text(workflow, "load")


def test_closed_pull_requests_drop_their_schemas() -> None:
    workflow = load("pull-request-cleanup.yml")
    assert workflow[True]["pull_request"]["types"] == ["closed"]
    assert "drop_schemas_with_prefix" in steps_text(workflow, "drop-schemas")


def test_no_secret_is_written_in_a_workflow() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        for line in text.splitlines():
            name = line.strip().split(":", 1)[0]
            if name == "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD":  # a flag of the test database
                continue
            if name.endswith(
                ("_PASSWORD", "_PRIVATE_KEY", "_ACCESS_TOKEN", "_SALT", "_CREDENTIALS")
            ):
                assert "${{ secrets." in line, f"{path.name}: {line.strip()}"
