"""With no database server configured, the world runs on embedded stand-ins."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg2

from world.cli import Manifest
from world.urls import DbUrl

ROOT = Path(__file__).resolve().parents[2]


def test_embedded_world_create_and_change(tmp_path: Path) -> None:
    world_dir = str(tmp_path / "world")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SHOP_DATABASE_URL", "CATALOG_DATABASE_URL")
    }
    try:
        for args in (["create", "--orders", "1500", "--seed", "2"], ["change"]):
            done = subprocess.run(
                [sys.executable, "-m", "world", "--world-dir", world_dir, *args],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert done.returncode == 0, done.stderr + done.stdout
        manifest = Manifest.load(world_dir)
        assert manifest.shop_url.startswith("sqlite:///")
        assert "host=" in manifest.catalog_url  # the embedded server listens on a socket only
        with sqlite3.connect(DbUrl.parse(manifest.shop_url).database) as conn:
            orders = conn.execute("select count(*) from orders").fetchone()[0]
            zero = conn.execute(
                "select count(*) from payments where processed_at = '0000-00-00 00:00:00'"
            ).fetchone()[0]
        assert orders > 1500 - 50  # the change adds some and purges a few
        assert zero == manifest.report["zero_processed_at"]["rows"] > 0
        conn = psycopg2.connect(DbUrl.parse(manifest.catalog_url).libpq())
        with conn.cursor() as cur:
            cur.execute(
                "select count(*), count(*) filter (where category_id is null) from catalog.products"
            )
            products, uncategorized = cur.fetchone()
        conn.close()
        assert products > 200 and uncategorized == manifest.report["null_product_category"]["rows"]
    finally:
        subprocess.run(
            [sys.executable, "-m", "world", "--world-dir", world_dir, "stop"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=False,
            timeout=60,
        )
