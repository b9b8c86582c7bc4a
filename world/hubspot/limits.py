"""HubSpot's limits as the emulator enforces them: a rolling budget per token, a per-second
budget for search, a daily cap, and the faults tests inject."""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
import uuid
from typing import Any


@dataclasses.dataclass
class Fault:
    """Answer `count` matching requests with `status` instead of serving them."""

    status: int
    count: int
    path_prefix: str = "/"
    retry_after: int | None = None
    # Serve the real answer but drop the connection halfway through its body (IncompleteRead).
    truncate: bool = False


@dataclasses.dataclass
class EmulatorConfig:
    tokens: set[str] = dataclasses.field(default_factory=lambda: {"pat-na1-emulator-token"})
    tokens_without_scopes: set[str] = dataclasses.field(default_factory=set)
    interval_max: int = 190  # requests per rolling interval (Professional/Enterprise private app)
    interval_ms: int = 10_000
    search_per_second: int = 5
    daily_max: int = 1_000_000
    max_url_length: int = 8_192
    latency_ms: float = 0.0
    faults: collections.deque[Fault] = dataclasses.field(default_factory=collections.deque)
    # Path prefix -> the scope the portal's app lacks there: 403 MISSING_SCOPES (a portal
    # without Marketing Hub answers so on marketing emails).
    missing_scopes: dict[str, str] = dataclasses.field(default_factory=dict)


class RateLimiter:
    """HubSpot's budgets: a rolling interval per token, a per-second budget for search, a day."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.interval: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.search: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.daily: dict[str, int] = collections.Counter()

    def check(
        self, token: str, is_search: bool
    ) -> tuple[dict[str, str], dict[str, Any] | None, float]:
        """(headers, 429 body or None, retry-after seconds)."""
        cfg = self.config
        now = time.monotonic()
        with self.lock:
            window = cfg.interval_ms / 1000
            calls = self.interval[token]
            while calls and now - calls[0] >= window:
                calls.popleft()
            searches = self.search[token]
            while searches and now - searches[0] >= 1.0:
                searches.popleft()
            if self.daily[token] >= cfg.daily_max:
                return {}, rate_limit_body("You have reached your daily limit.", "DAILY"), 3600.0
            if is_search and len(searches) >= cfg.search_per_second:
                wait = 1.0 - (now - searches[0])
                return (
                    {},
                    rate_limit_body("You have reached your secondly limit.", "SECONDLY"),
                    wait,
                )
            if len(calls) >= cfg.interval_max:
                wait = window - (now - calls[0])
                return (
                    self._headers(token, len(calls)),
                    rate_limit_body(
                        "You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING"
                    ),
                    wait,
                )
            calls.append(now)
            if is_search:
                searches.append(now)
            self.daily[token] += 1
            # The search API's answers carry no rate-limit headers (HubSpot documents this).
            return ({} if is_search else self._headers(token, len(calls))), None, 0.0

    def _headers(self, token: str, used: int) -> dict[str, str]:
        cfg = self.config
        secondly = max(1, cfg.interval_max * 1000 // cfg.interval_ms)
        return {
            "X-HubSpot-RateLimit-Daily": str(cfg.daily_max),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, cfg.daily_max - self.daily[token])),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(cfg.interval_ms),
            "X-HubSpot-RateLimit-Max": str(cfg.interval_max),
            "X-HubSpot-RateLimit-Remaining": str(max(0, cfg.interval_max - used)),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, secondly - min(used, secondly))),
        }


def rate_limit_body(message: str, policy: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
        "groupName": "api-calls",
    }
