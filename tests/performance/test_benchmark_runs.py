"""The loader benchmark command still runs end to end (figures are read by people, not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.mysql
@pytest.mark.postgres
@pytest.mark.parametrize("capture", ["stream"])  # servers with their streams on: both modes run
def test_loader_benchmark_prints_its_table(
    make_mysql_database: Callable[[str], str],
    make_postgres_database: Callable[[str], str],
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "SHOP_DATABASE_URL": make_mysql_database("bench"),
        "CATALOG_DATABASE_URL": make_postgres_database("bench"),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.loaders",
            "--orders",
            "3000",
            "--work-dir",
            str(tmp_path),
            "--capture",
            "both",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for row in (
        "shop.orders",
        "shop (process wall)",
        "catalog.products",
        "peak RSS (MB)",
        "Capture modes side by side",
        "no change, shop and catalog (stream)",
    ):
        assert row in out, out[-3000:]
    assert (tmp_path / "results.json").exists()
