"""The quickstart's first command runs the whole pipeline on the embedded default."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_pipeline_runs_end_to_end_on_embedded_sources(tmp_path: Path) -> None:
    """Every step exits 0 (dbt build with warnings only), every mart is built. The variant
    world's build is checked by tests/warehouse (built_variant_warehouse), on real servers."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SHOP_DATABASE_URL", "CATALOG_DATABASE_URL")
    }
    env["DBT_TARGET_PATH"] = str(tmp_path / "target")
    env["DBT_LOG_PATH"] = str(tmp_path / "logs")
    warehouse = tmp_path / "warehouse.duckdb"
    world_dir = tmp_path / "world"
    try:
        done = subprocess.run(
            [
                sys.executable,
                "scripts/pipeline.py",
                "--orders",
                "2000",
                "--world-dir",
                str(world_dir),
                "--warehouse",
                str(warehouse),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
        summary = done.stdout.split("==> summary", 1)[-1]
        assert "==> summary" in done.stdout
        assert "fct_orders" in summary and "data-quality rule" in summary
        assert "missing_category" in summary  # one line per rule of the data-quality report
        assert warehouse.exists()
        # The headline figures come from the semantic layer and say what the marts say.
        with duckdb.connect(str(warehouse), read_only=True) as con:
            valid, net = con.execute(
                "select count(*), sum(net_revenue_usd) from marts.fct_orders where is_valid_order"
            ).fetchone() or (0, 0)
        assert re.search(rf"Valid orders +{valid:,} +valid_orders", summary), summary
        assert re.search(rf"Net revenue \(USD\) +\${net:,.2f} +net_revenue_usd", summary), summary
        assert "Share of order lines quarantined" in summary
        # It ends with the report site, next to the warehouse.
        site = tmp_path / "reports"
        assert {p.stem for p in site.glob("*.html")} >= {"index", "revenue", "pipeline"}
        assert f"reports    {site / 'index.html'}" in summary
        catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
        assert catalog["nodes"]  # docs were generated over real warehouse objects
    finally:
        subprocess.run(
            [sys.executable, "-m", "world", "--world-dir", str(world_dir), "stop"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=False,
            timeout=60,
        )
