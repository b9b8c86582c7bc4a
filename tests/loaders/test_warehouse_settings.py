"""Every session on the warehouse can spill past its memory limit, wherever it is started."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from loaders.shared.warehouse import duckdb_settings


def test_a_session_started_outside_the_project_spills_beside_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"  # no data/ folder here
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    warehouse = tmp_path / "warehouses" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    monkeypatch.setenv("SHOPSPHERE_DUCKDB_PATH", str(warehouse))
    monkeypatch.delenv("DESTINATION__DUCKDB__CREDENTIALS", raising=False)
    monkeypatch.delenv("SHOPSPHERE_DUCKDB_TEMP_DIR", raising=False)
    monkeypatch.setenv("SHOPSPHERE_DUCKDB_MEMORY_LIMIT", "64MB")
    # One thread: two sorting side by side under 64 MB ran out of memory on a loaded machine.
    monkeypatch.setenv("SHOPSPHERE_DUCKDB_THREADS", "1")
    settings = duckdb_settings()
    assert settings["temp_directory"] == f"{warehouse}.tmp"
    with duckdb.connect(str(warehouse), config=settings) as con:
        # Sorting ~300 MB of rows under a 64 MB limit must spill (it failed with "Failed to
        # create directory data/duckdb_tmp" when the folder was relative to the working one).
        con.execute(
            "create table t as select i, md5(i::text) || repeat('x', 60) as s from range(3000000) t(i)"
        )
        counted = con.execute("select count(*) from (select * from t order by s)").fetchone()
    assert counted == (3_000_000,)
