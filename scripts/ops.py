"""The operating layer on this machine: `dagster dev` (webserver and daemon) for the project.

    scripts/dagster [--world-dir data/world] [--warehouse data/warehouse.duckdb] [--port 3000]

- DAGSTER_HOME defaults to data/dagster; orchestration/dagster.yaml is copied there when it
  holds no dagster.yaml. Runs and materializations persist there (SQLite).
- `dbt parse` runs first, so that the dbt assets have their manifest.
- Without SOURCES__SHOP__CREDENTIALS in the environment, the quickstart's world (--world-dir)
  is served as the sources: its embedded PostgreSQL is started and the HubSpot emulator listens
  on loopback for as long as Dagster runs. With them set, Dagster loads what they name.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loaders.shared.warehouse import duckdb_path  # noqa: E402
from scripts.pipeline import world_env  # noqa: E402
from world.cli import DEFAULT_TOKEN, Manifest  # noqa: E402
from world.hubspot.emulator import EmulatorConfig, HubSpotEmulator  # noqa: E402


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--world-dir", default="data/world")
    parser.add_argument("--warehouse", default=duckdb_path())
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)

    home = Path(os.environ.get("DAGSTER_HOME") or ROOT / "data" / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DBT_PROFILES_DIR": str(ROOT),
        "SHOPSPHERE_DAGSTER_URL": os.environ.get(
            "SHOPSPHERE_DAGSTER_URL", f"http://127.0.0.1:{args.port}"
        ),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    hubspot = None
    if not os.environ.get("SOURCES__SHOP__CREDENTIALS"):
        if not (Path(args.world_dir) / "manifest.json").exists():
            raise SystemExit(
                f"ops: no SOURCES__* settings and no world in {args.world_dir}; "
                "run ./scripts/quickstart first or set the sources' credentials"
            )
        manifest = Manifest.load(args.world_dir)
        if "host=" in manifest.catalog_url:
            from world import embedded

            embedded.postgres_server(args.world_dir)
        hubspot = HubSpotEmulator(manifest.hubspot_store, EmulatorConfig(tokens={DEFAULT_TOKEN}))
        hubspot.start()
        warehouse = str(Path(args.warehouse).resolve())
        env.update(world_env(manifest, hubspot.base_url, warehouse))
    # dagster runs in a session of its own (so that its whole group can be killed): turn
    # SIGTERM into an exception, so that the clean-up below stops it too.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        subprocess.run([str(bin_dir / "dbt"), "parse", "--quiet"], cwd=ROOT, env=env, check=True)
        print(f"ops: DAGSTER_HOME={home}; open http://127.0.0.1:{args.port}", flush=True)
        # dagster dev ignores SIGTERM for a long while: stop its whole group with SIGKILL.
        dev = subprocess.Popen(
            [str(bin_dir / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(args.port)],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        try:
            return dev.wait()
        finally:
            if dev.poll() is None:
                os.killpg(dev.pid, signal.SIGKILL)
    finally:
        if hubspot is not None:
            hubspot.stop()


if __name__ == "__main__":
    sys.exit(main())
