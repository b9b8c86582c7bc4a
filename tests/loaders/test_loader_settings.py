"""The loaders read every setting in one place (loaders/settings.py), as the environment is at
the call, and say which variable is wrong when one cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.settings import settings, snowflake_connection
from loaders.shared.errors import LoaderError


def test_defaults_when_nothing_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = settings({})
    assert cfg.duckdb_path == str(tmp_path / "data" / "warehouse.duckdb")
    assert cfg.duckdb_temp_dir == cfg.duckdb_path + ".tmp"
    assert (cfg.duckdb_memory_limit, cfg.duckdb_threads) == ("640MB", 2)
    assert (cfg.pipelines_dir, cfg.destination, cfg.raw_database) == ("data/dlt", "duckdb", None)
    assert cfg.warehouse_wait_seconds == 3600


def test_the_environment_wins_and_dlts_own_variable_names_the_file(tmp_path: Path) -> None:
    env = {
        "SHOPSPHERE_DUCKDB_PATH": str(tmp_path / "a.duckdb"),
        "SHOPSPHERE_DUCKDB_THREADS": "4",
        "SHOPSPHERE_WAREHOUSE_WAIT_SECONDS": "1.5",
        "SHOPSPHERE_DESTINATION": "snowflake",
        "SHOPSPHERE_RAW_DATABASE": "RAW_PROD",
    }
    cfg = settings(env)
    assert cfg.duckdb_path == str(tmp_path / "a.duckdb")
    assert (cfg.duckdb_threads, cfg.warehouse_wait_seconds) == (4, 1.5)
    assert (cfg.destination, cfg.raw_database) == ("snowflake", "RAW_PROD")
    env["DESTINATION__DUCKDB__CREDENTIALS"] = str(tmp_path / "b.duckdb")
    assert settings(env).duckdb_path == str(tmp_path / "b.duckdb")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHOPSPHERE_DUCKDB_THREADS", "two"),
        ("SHOPSPHERE_WAREHOUSE_WAIT_SECONDS", "soon"),
        ("SHOPSPHERE_DESTINATION", "bigquery"),
    ],
)
def test_a_value_that_cannot_be_used_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(LoaderError, match=name):
        settings({name: value})


def test_snowflake_is_reached_with_the_profiles_variables_and_a_missing_one_is_named() -> None:
    env = {
        "SNOWFLAKE_ACCOUNT": "acme",
        "SNOWFLAKE_USER": "reporter",
        "SNOWFLAKE_PASSWORD": "pw",  # pragma: allowlist secret
        "SNOWFLAKE_ROLE": "REPORTER",
    }
    assert snowflake_connection(env) == {
        "account": "acme",
        "user": "reporter",
        "password": "pw",  # pragma: allowlist secret
        "role": "REPORTER",
    }
    keyed = snowflake_connection({**env, "SNOWFLAKE_PRIVATE_KEY_PATH": "/k.p8"})
    assert "password" not in keyed and keyed["private_key_file"] == "/k.p8"
    with pytest.raises(LoaderError, match="SNOWFLAKE_ACCOUNT"):
        snowflake_connection({k: env[k] for k in ("SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD")})
