"""The loaders' settings: every path, default and environment variable a loader process reads,
in one place. `settings()` reads the environment as it is at the call (an orchestrator or a test
sets variables per run), and a value that cannot be used fails with the variable's name.

| variable | default | what |
|---|---|---|
| SHOPSPHERE_DUCKDB_PATH (dlt's DESTINATION__DUCKDB__CREDENTIALS wins) | data/warehouse.duckdb | the warehouse file |
| SHOPSPHERE_DUCKDB_TEMP_DIR | `<warehouse>.tmp` | where DuckDB spills past its memory limit |
| SHOPSPHERE_DUCKDB_MEMORY_LIMIT | 640MB | DuckDB's buffer manager limit |
| SHOPSPHERE_DUCKDB_THREADS | 2 | DuckDB's threads |
| SHOPSPHERE_WAREHOUSE_WAIT_SECONDS | 3600 | how long a writer waits for the warehouse's lock |
| SHOPSPHERE_PIPELINES_DIR | data/dlt | dlt's pipelines (state, packages) |
| SHOPSPHERE_DESTINATION | duckdb | duckdb or snowflake |
| SHOPSPHERE_RAW_DATABASE | the raw schemas' database | Snowflake's database of the raw schemas |
| DBT_TARGET_PATH | target | dbt's target folder (erasure parses into `<it>/erase`) |
| SNOWFLAKE_ACCOUNT, _USER, _PASSWORD or _PRIVATE_KEY_PATH, _ROLE, _WAREHOUSE, _DATABASE | | Snowflake, as the dbt profile reaches it |
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from loaders.shared.errors import LoaderError

# The warehouse file when nothing says otherwise (profiles.yml's env_var defaults say the same).
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_PIPELINES_DIR = "data/dlt"
ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class LoaderSettings:
    duckdb_path: str
    duckdb_temp_dir: str
    duckdb_memory_limit: str
    duckdb_threads: int
    warehouse_wait_seconds: float
    pipelines_dir: str
    destination: str
    raw_database: str | None
    dbt_target_path: str


def _number(
    env: Mapping[str, str], name: str, default: str, kind: type[int] | type[float]
) -> float:
    value = env.get(name) or default
    try:
        return kind(value)
    except ValueError:
        raise LoaderError(f"{name}={value!r} is not a number") from None


def settings(env: Mapping[str, str] = os.environ) -> LoaderSettings:
    path = str(
        Path(
            env.get("DESTINATION__DUCKDB__CREDENTIALS")
            or env.get("SHOPSPHERE_DUCKDB_PATH")
            or DEFAULT_DUCKDB_PATH
        ).resolve()
    )
    destination = env.get("SHOPSPHERE_DESTINATION") or "duckdb"
    if destination not in ("duckdb", "snowflake"):
        raise LoaderError(f"SHOPSPHERE_DESTINATION={destination!r}: use duckdb or snowflake")
    return LoaderSettings(
        duckdb_path=path,
        duckdb_temp_dir=str(Path(env.get("SHOPSPHERE_DUCKDB_TEMP_DIR") or path + ".tmp").resolve()),
        duckdb_memory_limit=env.get("SHOPSPHERE_DUCKDB_MEMORY_LIMIT") or "640MB",
        duckdb_threads=int(_number(env, "SHOPSPHERE_DUCKDB_THREADS", "2", int)),
        warehouse_wait_seconds=_number(env, "SHOPSPHERE_WAREHOUSE_WAIT_SECONDS", "3600", float),
        pipelines_dir=env.get("SHOPSPHERE_PIPELINES_DIR") or DEFAULT_PIPELINES_DIR,
        destination=destination,
        raw_database=env.get("SHOPSPHERE_RAW_DATABASE") or None,
        dbt_target_path=env.get("DBT_TARGET_PATH") or str(ROOT / "target"),
    )


def snowflake_connection(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """snowflake.connector.connect's arguments, from the variables the dbt profile reads too
    (a private key file instead of a password when SNOWFLAKE_PRIVATE_KEY_PATH is set)."""
    found = {
        key: env[f"SNOWFLAKE_{key.upper()}"]
        for key in ("account", "user", "password", "role", "warehouse", "database")
        if env.get(f"SNOWFLAKE_{key.upper()}")
    }
    if env.get("SNOWFLAKE_PRIVATE_KEY_PATH"):
        found.pop("password", None)
        found["private_key_file"] = env["SNOWFLAKE_PRIVATE_KEY_PATH"]
    missing = [f"SNOWFLAKE_{k.upper()}" for k in ("account", "user") if k not in found]
    if "password" not in found and "private_key_file" not in found:
        missing.append("SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH")
    if missing:
        raise LoaderError(f"snowflake: set {', '.join(missing)}")
    return found
