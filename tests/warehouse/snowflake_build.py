"""The emulated Snowflake build the Snowflake tests read (tests/warehouse/test_snowflake_build.py):
the loaders into fakesnow's RAW, `dbt` runs against its ANALYTICS through the harness
(tests/warehouse/snowflake_emulated.py), and the rows of a relation as text, comparable with
DuckDB's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from loaders.privacy.pii import DEV_KEY
from tests.fixtures.dbt import ROOT, BuiltWorld

HARNESS = ROOT / "tests" / "warehouse" / "snowflake_emulated.py"
PUBLIC = {
    "marts": [
        "fct_orders",
        "fct_order_items",
        "dim_customers",
        "dim_products",
        "fct_daily_revenue",
        "fct_campaign_performance",
        "fct_email_sends",
        "dim_date",
        "dim_product_price_history",
        "dim_inventory_level_history",
    ],
    "data_quality": ["dq_issues", "dq_rule_results"],
}
# Differ between any two builds (the dbt invocation; the dlt load that brought a record, or
# when, as each warehouse was loaded by its own run), or by how each warehouse renders a
# timestamp as text inside a hash (the snapshots' dbt_scd_id).
PER_BUILD = {
    "_built_at",
    "invocation_id",
    "load_id",
    "events_loaded_at",
    "product_price_version_id",
    "inventory_level_version_id",
}


class SnowflakeBuild:
    def __init__(self, world: BuiltWorld, tmp: Path) -> None:
        self.world = world
        self.db_path = tmp / "fakesnow"
        self.target = tmp / "target"
        self.grants_log = tmp / "grants.log"
        self.first: dict[str, str] = {}  # node -> status of the first build
        self.loaded = ""  # the loaders' summary
        self.env = {
            **world.dbt.env,
            "DBT_TARGET_PATH": str(self.target),
            "DBT_LOG_PATH": str(self.target / "logs"),
            "SNOWFLAKE_ACCOUNT": "emulated",
            "SNOWFLAKE_USER": "transformer",
            "SNOWFLAKE_PASSWORD": "emulated",  # pragma: allowlist secret
            # prod refuses to build without a key; the DuckDB build used the development one.
            "SHOPSPHERE_PII_KEY": DEV_KEY,
            "SHOPSPHERE_RAW_DATABASE": "RAW",
            "SHOPSPHERE_REPORTER_ROLE": "REPORTER",
        }

    def load(self) -> str:
        """The loaders, all three sources, into Snowflake's RAW database (dlt's Snowflake
        destination: tables created, files PUT on table stages, COPY INTO, merges)."""
        env = {
            **self.world.loader_env,
            "DESTINATION__SNOWFLAKE__CREDENTIALS__HOST": "emulated",
            "DESTINATION__SNOWFLAKE__CREDENTIALS__USERNAME": "loader",
            "DESTINATION__SNOWFLAKE__CREDENTIALS__PASSWORD": "emulated",  # pragma: allowlist secret
            "DESTINATION__SNOWFLAKE__CREDENTIALS__DATABASE": "RAW",
            "DESTINATION__SNOWFLAKE__CREDENTIALS__WAREHOUSE": "LOADING",
            "DESTINATION__SNOWFLAKE__CREDENTIALS__ROLE": "LOADER",
            "SHOPSPHERE_PIPELINES_DIR": str(self.db_path.parent / "dlt"),
        }
        done = subprocess.run(
            [
                sys.executable,
                str(HARNESS),
                str(self.db_path),
                "--load",
                "--",
                "--source",
                "all",
                "--destination",
                "snowflake",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
        return done.stdout

    def run(self, *dbt_args: str, raw: bool = False) -> dict[str, str]:
        argv = [
            sys.executable,
            str(HARNESS),
            str(self.db_path),
            "--grants-log",
            str(self.grants_log),
        ]
        if raw:
            argv += ["--raw", self.world.dbt.warehouse]
        done = subprocess.run(
            [
                *argv,
                "--",
                *dbt_args,
                "--target",
                "prod",
                "--threads",
                "1",
                "--vars",
                self.world.vars,
            ],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
        results = json.loads((self.target / "run_results.json").read_text())["results"]
        return {r["unique_id"]: r["status"] for r in results}

    def query(self, queries: dict[str, str]) -> dict[str, dict[str, Any]]:
        """Queries run on the emulated ANALYTICS database (see the harness's --sql)."""
        sent, answered = self.target / "queries.json", self.target / "answers.json"
        sent.write_text(json.dumps(queries))
        done = subprocess.run(
            [sys.executable, str(HARNESS), str(self.db_path), "--sql", str(sent), str(answered)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
        answers: dict[str, dict[str, Any]] = json.loads(answered.read_text())
        return answers

    def rows(self, schema: str, table: str) -> list[tuple[str | None, ...]]:
        with duckdb.connect(str(self.db_path / "ANALYTICS.db"), read_only=True) as con:
            return rows_as_text(con, schema, table)


def rows_as_text(
    con: duckdb.DuckDBPyConnection, schema: str, table: str
) -> list[tuple[str | None, ...]]:
    """Every row as text, columns by lower-case name in sorted order (types differ in name
    between the warehouses, not in value: NUMBER(38,0) for bigint, and so on)."""
    con.execute("set timezone = 'UTC'")
    columns = sorted(
        (
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns "
                "where lower(table_schema) = ? and lower(table_name) = ?",
                [schema, table],
            ).fetchall()
            if c.lower() not in PER_BUILD
        ),
        key=str.lower,
    )
    assert columns, f"{schema}.{table} not found"
    select = ", ".join(f'cast("{c}" as varchar)' for c in columns)
    return sorted(
        con.sql(f'select {select} from "{schema}"."{table}"').fetchall(),
        key=lambda r: tuple("" if v is None else v for v in r),
    )
