"""Slim CI on DuckDB: what the pull-request workflow does on Snowflake, on one machine.

    python scripts/slim_ci.py publish                 # after a production build: keep its manifest
    python scripts/slim_ci.py build --pr 123          # build what changed, defer the rest
    python scripts/slim_ci.py clean --pr 123          # drop the pull request's schemas

Production is the DuckDB warehouse of target `dev` (SHOPSPHERE_DUCKDB_PATH, default
data/warehouse.duckdb) and its artifacts folder (--state, default prod-artifacts/, never
target/). A pull request builds with target `pr_duckdb` into its own file (--pr-warehouse,
default data/pr.duckdb) and schemas `pr_<n>_*`, with production's file attached read-only: raw
sources are read there, and every unchanged model is deferred to it. With no production
manifest, everything is built (the workflow's fallback).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DBT = str(Path(sys.executable).parent / "dbt")

from loaders.shared.warehouse import duckdb_path  # noqa: E402


def dbt(args: list[str], env: dict[str, str], project_dir: Path) -> int:
    print(f"==> dbt {' '.join(args)}", flush=True)
    return subprocess.run(
        [DBT, *args, "--project-dir", str(project_dir)], cwd=project_dir, env=env, check=False
    ).returncode


def publish(source: Path, dest: Path) -> None:
    """Copies the artifacts a build publishes (manifest, run results, catalog) without the
    compiled SQL of any node: on Snowflake it holds the PII key's pads (macro hash_pii).
    Deferral and `state:modified` read the raw code and the relations, which stay."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("manifest.json", "run_results.json", "catalog.json"):
        if not (source / name).exists():
            continue
        artifact = json.loads((source / name).read_text())
        for node in [
            *artifact.get("nodes", {}).values(),
            *artifact.get("results", []),
        ]:
            if "compiled_code" in node:
                node["compiled_code"] = None
        (dest / name).write_text(json.dumps(artifact))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["publish", "build", "clean"])
    parser.add_argument("--pr", default="local", help="pull request number (schema pr_<n>_*)")
    parser.add_argument("--project-dir", default=str(ROOT))
    parser.add_argument("--state", default="prod-artifacts", help="production artifacts folder")
    parser.add_argument("--target-path", default=None, help="production build's target folder")
    parser.add_argument(
        "--prod-warehouse",
        default=duckdb_path(),
    )
    parser.add_argument(
        "--pr-warehouse", default=os.environ.get("SHOPSPHERE_PR_DUCKDB_PATH", "data/pr.duckdb")
    )
    parser.add_argument("--vars", default=None, help="dbt --vars for the build")
    args = parser.parse_args(argv)

    project = Path(args.project_dir).resolve()
    state = (project / args.state).resolve()
    prod = (project / args.prod_warehouse).resolve()
    pr_file = (project / args.pr_warehouse).resolve()
    schema = f"pr_{args.pr}".lower()
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": os.environ.get("DBT_PROFILES_DIR", str(project)),
        "SHOPSPHERE_DUCKDB_PATH": str(prod),
        "SHOPSPHERE_PR_DUCKDB_PATH": str(pr_file),
        "DBT_SCHEMA": schema,
    }

    if args.command == "publish":
        source = Path(args.target_path or env.get("DBT_TARGET_PATH") or project / "target")
        manifest = source / "manifest.json"
        if not manifest.exists():
            print(f"slim_ci: no {manifest}: run the production build first", file=sys.stderr)
            return 1
        publish(source, state)
        print(f"slim_ci: production artifacts in {state}")
        return 0

    # The PR build reads raw from production's file, attached under its own name.
    env["SHOPSPHERE_RAW_DATABASE"] = prod.stem
    common = ["--target", "pr_duckdb", *(["--vars", args.vars] if args.vars else [])]
    if args.command == "clean":
        return dbt(
            [
                "run-operation",
                "drop_schemas_with_prefix",
                "--args",
                json.dumps({"prefix": schema}),
                "--target",
                "pr_duckdb",
            ],
            env,
            project,
        )
    if not prod.exists():
        print(f"slim_ci: no production warehouse at {prod}", file=sys.stderr)
        return 1
    pr_file.parent.mkdir(parents=True, exist_ok=True)
    if (state / "manifest.json").exists():
        return dbt(
            ["build", *common, "--select", "state:modified+", "--defer", "--state", str(state)],
            env,
            project,
        )
    print("slim_ci: no production manifest: building everything", flush=True)
    return dbt(["build", *common], env, project)


if __name__ == "__main__":
    raise SystemExit(main())
