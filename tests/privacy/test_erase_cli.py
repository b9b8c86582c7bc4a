"""`python -m loaders.erase` refuses bad input with one clear line, a non-zero exit, and no change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.dbt import ROOT


def last_line(text: str) -> str:
    """The message (a library may warn on import before it)."""
    return text.strip().splitlines()[-1]


def _erase(tmp: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SHOPSPHERE_DUCKDB_PATH": str(tmp / "missing.duckdb"),
        "SHOPSPHERE_PIPELINES_DIR": str(tmp / "dlt"),
    }
    return subprocess.run(
        [sys.executable, "-m", "loaders.erase", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_address_that_is_not_one_is_refused(tmp_path: Path) -> None:
    done = _erase(tmp_path, "--email", "not-an-address")
    assert done.returncode == 2
    assert last_line(done.stderr) == "erase: --email is not an email address"
    done = _erase(tmp_path, "--email", "-", stdin="nobody\n")
    assert done.returncode == 2


def test_a_missing_warehouse_is_named(tmp_path: Path) -> None:
    done = _erase(tmp_path, "--email", "a@example.org")
    assert done.returncode == 1
    assert last_line(done.stderr) == (
        f"erase: no warehouse at {tmp_path / 'missing.duckdb'} (SHOPSPHERE_DUCKDB_PATH)"
    )
    assert not (tmp_path / "missing.duckdb").exists()


def test_a_malformed_key_is_named(tmp_path: Path) -> None:
    env_key = {"SHOPSPHERE_PII_KEY": "xyz"}
    done = subprocess.run(
        [sys.executable, "-m", "loaders.erase", "--email", "a@example.org"],
        cwd=ROOT,
        env={**os.environ, **env_key},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert last_line(done.stderr).startswith("erase: SHOPSPHERE_PII_KEY: expected")
