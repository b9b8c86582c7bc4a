"""Every setting of the operating layer, read from the environment (documented in
docs/operations.md). Secrets (SMTP password, webhook URL) are read here and never printed."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from loaders.shared.warehouse import duckdb_path

ROOT = Path(__file__).resolve().parents[1]


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def as_of() -> str | None:
    """SHOPSPHERE_AS_OF: the clock run_timestamp() uses instead of now (dbt's var as_of)."""
    return os.environ.get("SHOPSPHERE_AS_OF") or None


def dbt_vars(**extra: Any) -> list[str]:
    """`--vars` for a dbt command: run_timestamp()'s clock from SHOPSPHERE_AS_OF, if set."""
    as_of_value = as_of()
    values = {**({"as_of": as_of_value} if as_of_value else {}), **extra}
    return ["--vars", json.dumps(values)] if values else []


def _cadence(value: str) -> str:
    if value.lower() not in ("daily", "hourly"):
        raise SystemExit(f"SHOPSPHERE_HUBSPOT_CADENCE must be daily or hourly, not {value!r}")
    return value.lower()


@dataclasses.dataclass(frozen=True)
class Settings:
    destination: str  # duckdb (embedded) or snowflake
    dbt_target: str | None
    dbt_target_path: str
    daily_cron: str
    history_tests_cron: str  # the weekly run of every test on every row
    intraday: bool  # the intraday schedule runs (SHOPSPHERE_INTRADAY=on); off by default
    intraday_cron: str
    hubspot_cadence: str  # daily (with the daily job) or hourly (its own schedule as well)
    hubspot_cron: str  # the hourly HubSpot schedule's cron
    timezone: str
    marts_deadline: str  # HH:MM in `timezone`
    retries: int
    retry_delay_seconds: float
    dagster_url: str  # where alert links point
    reports_dir: str  # where the report pages are written
    stream_max_held_mb: float  # a replication slot holding more WAL than this alerts
    stream_min_margin_files: int  # a binlog position this close to the server's oldest alerts

    @property
    def dbt_executable(self) -> str:
        beside = Path(sys.executable).parent / "dbt"
        return str(beside) if beside.exists() else "dbt"


def settings() -> Settings:
    return Settings(
        destination=_env("SHOPSPHERE_DESTINATION", "duckdb"),
        dbt_target=os.environ.get("DBT_TARGET") or None,
        dbt_target_path=_env("DBT_TARGET_PATH", "target"),
        daily_cron=_env("SHOPSPHERE_DAILY_CRON", "0 2 * * *"),
        history_tests_cron=_env("SHOPSPHERE_HISTORY_TESTS_CRON", "0 4 * * 0"),
        intraday=_env("SHOPSPHERE_INTRADAY", "off").lower() in ("on", "true", "1", "yes"),
        intraday_cron=_env("SHOPSPHERE_INTRADAY_CRON", "*/15 * * * *"),
        hubspot_cadence=_cadence(_env("SHOPSPHERE_HUBSPOT_CADENCE", "daily")),
        hubspot_cron=_env("SHOPSPHERE_HUBSPOT_CRON", "0 * * * *"),
        timezone=_env("SHOPSPHERE_SCHEDULE_TIMEZONE", "UTC"),
        marts_deadline=_env("SHOPSPHERE_MARTS_DEADLINE", "06:00"),
        retries=int(_env("SHOPSPHERE_RETRIES", "3")),
        retry_delay_seconds=float(_env("SHOPSPHERE_RETRY_DELAY_SECONDS", "30")),
        dagster_url=_env("SHOPSPHERE_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/"),
        reports_dir=_env("SHOPSPHERE_REPORTS_DIR", str(Path(duckdb_path()).parent / "reports")),
        stream_max_held_mb=float(_env("SHOPSPHERE_STREAM_MAX_HELD_MB", "1024")),
        stream_min_margin_files=int(_env("SHOPSPHERE_STREAM_MIN_MARGIN_FILES", "1")),
    )


@dataclasses.dataclass(frozen=True)
class AlertSettings:
    """Where alerts go: mail over SMTP (host and recipient set) and a webhook (URL set). The
    password and the webhook's URL (which carries its token) never appear in its repr."""

    smtp_host: str | None
    smtp_port: int
    smtp_starttls: bool
    smtp_user: str | None
    smtp_password: str = dataclasses.field(repr=False)
    mail_from: str
    mail_to: str | None
    webhook_url: str | None = dataclasses.field(repr=False)

    @property
    def mail(self) -> bool:
        return bool(self.smtp_host and self.mail_to)


def alert_settings() -> AlertSettings:
    return AlertSettings(
        smtp_host=os.environ.get("SHOPSPHERE_ALERT_SMTP_HOST") or None,
        smtp_port=int(_env("SHOPSPHERE_ALERT_SMTP_PORT", "25")),
        smtp_starttls=_env("SHOPSPHERE_ALERT_SMTP_STARTTLS", "0") == "1",
        smtp_user=os.environ.get("SHOPSPHERE_ALERT_SMTP_USER") or None,
        smtp_password=os.environ.get("SHOPSPHERE_ALERT_SMTP_PASSWORD", ""),
        mail_from=_env("SHOPSPHERE_ALERT_FROM", "shopsphere-elt@localhost"),
        mail_to=os.environ.get("SHOPSPHERE_ALERT_TO") or None,
        webhook_url=os.environ.get("SHOPSPHERE_ALERT_WEBHOOK_URL") or None,
    )
