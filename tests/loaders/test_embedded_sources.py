"""The loaders are exact on the quickstart's embedded stand-ins too (SQLite shop, embedded
PostgreSQL), and say nothing a person cannot act on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.loading import Warehouse
from tests.fixtures.raw_compare import CATALOG_TABLES, SHOP_TABLES, assert_raw_equals_source
from world.cli import Manifest
from world.urls import DbUrl

ROOT = Path(__file__).resolve().parents[2]


def test_embedded_sources_load_exactly_and_incrementally(tmp_path: Path) -> None:
    world_dir = str(tmp_path / "world")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SHOP_DATABASE_URL", "CATALOG_DATABASE_URL")
    }

    def world(*args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "world", "--world-dir", world_dir, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    try:
        world("create", "--orders", "1500", "--seed", "8")
        manifest = Manifest.load(world_dir)
        wh_env = {
            **env,
            "SOURCES__SHOP__CREDENTIALS": DbUrl.parse(manifest.shop_url).sqlalchemy(),
            "SOURCES__CATALOG__CREDENTIALS": DbUrl.parse(manifest.catalog_url).sqlalchemy(),
            "SHOPSPHERE_DUCKDB_PATH": str(tmp_path / "wh.duckdb"),
            "SHOPSPHERE_PIPELINES_DIR": str(tmp_path / "dlt"),
        }
        wh = Warehouse(wh_env["SHOPSPHERE_DUCKDB_PATH"], wh_env)
        first = wh.load()
        # The embedded PostgreSQL runs with wal_level = logical: the catalog loads through its
        # stream; SQLite has none, which the shop's load says.
        assert {r["source_name"]: r["capture"] for r in wh.audit()} == {
            "shop": "cursor",
            "catalog": "stream",
        }
        assert "shop: changes found with the updated_at cursor" in first.stderr
        assert {r["zero_dates_nulled"] for r in wh.audit() if r["table_name"] == "payments"} == {
            manifest.report["zero_processed_at"]["rows"]
        }
        assert_raw_equals_source(manifest.shop_url, wh.path, "raw_shop", SHOP_TABLES)
        assert_raw_equals_source(manifest.catalog_url, wh.path, "raw_catalog", CATALOG_TABLES)
        world("change", "--fraction", "0.03")
        day = wh.load()
        # A clean run warns of nothing: not the json column that Arrow carries as text, not the
        # deleted keys' table missing its table's other columns.
        assert "WARNING" not in first.stderr + day.stderr, first.stderr + day.stderr
        assert {r["load_mode"] for r in wh.audit()} == {"incremental"}
        assert sum(r["rows_loaded"] for r in wh.audit() if r["source_name"] == "catalog") > 0
        assert_raw_equals_source(manifest.shop_url, wh.path, "raw_shop", SHOP_TABLES)
        assert_raw_equals_source(manifest.catalog_url, wh.path, "raw_catalog", CATALOG_TABLES)
    finally:
        world("stop")
