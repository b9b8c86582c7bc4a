"""One message per event, by e-mail (SMTP) and by webhook (Slack-compatible JSON).

Configured from the environment; a channel without its settings is off:
- SHOPSPHERE_ALERT_SMTP_HOST, _PORT (25), _USER, _PASSWORD, _STARTTLS (0/1),
  SHOPSPHERE_ALERT_FROM, SHOPSPHERE_ALERT_TO (comma-separated);
- SHOPSPHERE_ALERT_WEBHOOK_URL (a Slack incoming webhook or anything that takes {"text": ...}).

A delivery failure is logged as one line naming the channel (never its URL or password) and
does not raise: an alert that cannot be sent must not turn a green run red.
"""

from __future__ import annotations

import dataclasses
import logging
import smtplib
from email.message import EmailMessage

import requests

from .settings import AlertSettings, alert_settings

log = logging.getLogger("shopsphere.alerts")

KINDS = {
    "run_failed": "run failed",
    "dq_breach": "data-quality rule over its tolerated rate",
    "source_stale": "source past its freshness threshold",
    "marts_late": "marts not fresh by the deadline",
    "stream_at_risk": "a source's change stream is close to losing its position",
    "stream_lost": "a source's change stream lost its position",
}


@dataclasses.dataclass(frozen=True)
class Alert:
    kind: str  # a key of KINDS
    run_id: str
    step: str
    error: str  # one line
    link: str

    @property
    def subject(self) -> str:
        return f"[ShopSphere] {KINDS[self.kind]}: {self.step}"

    @property
    def text(self) -> str:
        return (
            f"{self.subject}\n"
            f"run: {self.run_id}\nstep: {self.step}\nerror: {self.error}\nlink: {self.link}"
        )


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:500] if lines else ""


def make_alert(kind: str, run_id: str, step: str, error: str, link: str) -> Alert:
    return Alert(kind, run_id, step, _first_line(error), link)


def send(alert: Alert) -> list[str]:
    """Deliver on every configured channel; returns the channels that took it."""
    delivered = []
    cfg = alert_settings()
    if cfg.mail:
        try:
            _send_mail(alert, cfg)
            delivered.append("email")
        except (OSError, smtplib.SMTPException) as exc:
            log.error("alert: e-mail delivery failed (%s)", exc.__class__.__name__)
    if cfg.webhook_url:
        try:
            _post_webhook(alert, cfg.webhook_url)
            delivered.append("webhook")
        except requests.RequestException as exc:
            log.error("alert: webhook delivery failed (%s)", exc.__class__.__name__)
    if not delivered:
        log.warning("alert (no channel delivered it): %s", alert.subject)
    return delivered


def _send_mail(alert: Alert, cfg: AlertSettings) -> None:
    assert cfg.smtp_host is not None and cfg.mail_to is not None
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = cfg.mail_from
    message["To"] = cfg.mail_to
    message.set_content(alert.text)
    with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=30) as smtp:
        if cfg.smtp_starttls:
            smtp.starttls()
        if cfg.smtp_user:
            smtp.login(cfg.smtp_user, cfg.smtp_password)
        smtp.send_message(message)


def _post_webhook(alert: Alert, url: str) -> None:
    response = requests.post(
        url,
        json={
            "text": alert.text,
            "kind": alert.kind,
            "run_id": alert.run_id,
            "step": alert.step,
            "error": alert.error,
            "link": alert.link,
        },
        timeout=30,
    )
    response.raise_for_status()
