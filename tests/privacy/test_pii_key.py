"""The hashed PII keys are keyed (HMAC-SHA256 under SHOPSPHERE_PII_KEY): the warehouse and Python
agree, the key reaches no statement, log or artifact, and a target other than the local ones
refuses to build without it."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from loaders.privacy.pii import DEV_KEY, PiiKeyError, key_from_env, keyed_hash, pads
from tests.fixtures.dbt import ROOT, BuiltWorld

HARNESS = ROOT / "tests" / "warehouse" / "snowflake_emulated.py"


def test_the_keyed_hash_is_hmac_sha256_of_the_utf8_value() -> None:
    key = bytes.fromhex("0f" * 40)
    value = "Zoë.Smith@example.com"
    assert keyed_hash(value, key) == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    inner, outer = pads(key)
    digest = hashlib.sha256(outer + hashlib.sha256(inner + value.encode()).digest()).hexdigest()
    assert keyed_hash(value, key) == digest


def test_a_malformed_key_is_refused_and_an_unset_one_is_the_development_key() -> None:
    assert key_from_env({}) == bytes.fromhex(DEV_KEY)
    assert key_from_env({"SHOPSPHERE_PII_KEY": "ab" * 16}) == bytes.fromhex("ab" * 16)
    for bad in ("not-hex", "ab" * 15, "abc" * 11, "ab" * 65):
        with pytest.raises(PiiKeyError, match="SHOPSPHERE_PII_KEY"):
            key_from_env({"SHOPSPHERE_PII_KEY": bad})


@pytest.mark.slow
@pytest.mark.mysql
@pytest.mark.postgres
def test_the_marts_hold_the_keyed_hash_and_no_artifact_holds_the_key(
    built_warehouse: BuiltWorld,
) -> None:
    key = key_from_env(built_warehouse.dbt.env)
    with duckdb.connect(built_warehouse.dbt.warehouse, read_only=True) as con:
        rows = con.sql(
            "select d.email_key, lower(trim(c.email)) from marts.dim_customers d"
            " join staging.stg_shop__customers c using (customer_id)"
            " where d.email_key is not null"
        ).fetchall()
    assert len(rows) > 500
    assert all(k == keyed_hash(email, key) for k, email in rows)

    secrets = [key.hex(), *(p.hex() for p in pads(key))]
    target = built_warehouse.dbt.target_dir
    files = [p for p in target.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sql" for p in files) and any(p.suffix == ".log" for p in files)
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace").lower()
        assert not any(s in text for s in secrets), path


@pytest.mark.slow
def test_a_target_other_than_the_local_ones_refuses_to_build_without_the_key(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SHOPSPHERE_PII_KEY"}
    env |= {
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "SNOWFLAKE_ACCOUNT": "emulated",
        "SNOWFLAKE_USER": "transformer",
        "SNOWFLAKE_PASSWORD": "emulated",  # pragma: allowlist secret
    }
    argv = [sys.executable, str(HARNESS), str(tmp_path / "fakesnow"), "--"]
    done = subprocess.run(
        [*argv, "run", "--select", "dim_date", "--target", "prod"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert (
        "SHOPSPHERE_PII_KEY is not set: target 'prod' refuses to build without the PII key"
        in output
    )
    assert "OK created" not in output  # nothing was built
