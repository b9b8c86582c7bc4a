"""HTTP to HubSpot within its documented limits.

`HubSpotSession` is the requests session under dlt's `RESTClient`:

- paces requests inside the rolling budget HubSpot announces in `X-HubSpot-RateLimit-Max` /
  `-Interval-Milliseconds` (assuming the lowest tier, 100 per 10 s, until a response says
  otherwise) and slows down when `-Remaining` says other apps share the budget; search
  requests, whose answers carry no such headers, keep to their own per-second budget;
- on 429 waits as long as `Retry-After` says (or a second) and tries again, however many
  times HubSpot asks within `max_rate_limited`;
- backs off exponentially on 5xx and connection errors, a bounded number of times;
- never retries 401/403: a bad token or missing scope fails at once, in one line;
- gives every request a timeout.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from typing import Any

import requests
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.client import RESTClient
from requests.hooks import default_hooks, dispatch_hook

from loaders.shared.errors import LoaderError, TransientLoaderError

HUBSPOT_API = "https://api.hubapi.com"


@dataclasses.dataclass
class RequestStats:
    requests: int = 0
    rate_limited: int = 0
    retried_errors: int = 0
    seconds_waiting: float = 0.0
    by_status: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)


class Pacer:
    """Keeps requests inside HubSpot's rolling budgets."""

    def __init__(self, search_per_second: float, safety: int = 2) -> None:
        self.max = 100
        self.interval = 10.0
        self.safety = safety
        self.search_per_second = search_per_second
        self.calls: collections.deque[float] = collections.deque()
        self.searches: collections.deque[float] = collections.deque()
        self.low_remaining = False

    def wait(self, is_search: bool, stats: RequestStats) -> None:
        while True:
            now = time.monotonic()
            while self.calls and now - self.calls[0] >= self.interval:
                self.calls.popleft()
            while self.searches and now - self.searches[0] >= 1.0:
                self.searches.popleft()
            delay = 0.0
            if len(self.calls) >= max(1, self.max - self.safety):
                delay = self.interval - (now - self.calls[0])
            if is_search and len(self.searches) >= self.search_per_second:
                delay = max(delay, 1.0 - (now - self.searches[0]))
            if (
                self.low_remaining
            ):  # others are spending the same budget: leave a slot between calls
                delay = max(delay, self.interval / self.max)
                self.low_remaining = False
            if delay <= 0:
                break
            stats.seconds_waiting += delay
            time.sleep(delay)
        self.calls.append(time.monotonic())
        if is_search:
            self.searches.append(time.monotonic())

    def observe(self, response: requests.Response) -> None:
        h = response.headers
        try:
            if "X-HubSpot-RateLimit-Max" in h:
                self.max = max(1, int(h["X-HubSpot-RateLimit-Max"]))
            if "X-HubSpot-RateLimit-Interval-Milliseconds" in h:
                self.interval = max(
                    0.001, int(h["X-HubSpot-RateLimit-Interval-Milliseconds"]) / 1000
                )
            if "X-HubSpot-RateLimit-Remaining" in h:
                self.low_remaining = int(h["X-HubSpot-RateLimit-Remaining"]) <= self.safety
        except ValueError:
            pass


class HubSpotSession(requests.Session):
    def __init__(
        self,
        timeout: float = 60.0,
        max_attempts: int = 5,
        max_rate_limited: int = 50,
        backoff: float = 1.0,
        search_per_second: float = 4,
    ) -> None:
        super().__init__()
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_rate_limited = max_rate_limited
        self.backoff = backoff
        self.pacer = Pacer(search_per_second)
        self.stats = RequestStats()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout
        # Response hooks (dlt's raise-for-status) run on the final answer only, not on the
        # 429s and 5xx this loop retries.
        hooks, request.hooks = request.hooks, default_hooks()
        response = self._send_with_retries(request, **kwargs)
        answered: requests.Response = dispatch_hook(  # type: ignore[no-untyped-call]
            "response", hooks, response, **kwargs
        )
        return answered

    def _send_with_retries(
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        is_search = (request.url or "").split("?", 1)[0].endswith("/search")
        errors = rate_limited = 0
        what = f"{request.method} {(request.url or '').split('?', 1)[0]}"
        while True:
            self.pacer.wait(is_search, self.stats)
            self.stats.requests += 1
            try:
                response = super().send(request, **kwargs)
            except (
                requests.ConnectionError,
                requests.Timeout,
                # the connection dropped in the middle of the answer (IncompleteRead)
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                errors += 1
                if errors >= self.max_attempts:
                    raise TransientLoaderError(
                        f"hubspot: {what} failed {errors} times ({exc.__class__.__name__}); "
                        "check the network and sources.hubspot.base_url"
                    ) from None
                self._sleep(self.backoff * 2 ** (errors - 1))
                self.stats.retried_errors += 1
                continue
            self.stats.by_status[response.status_code] += 1
            self.pacer.observe(response)
            status = response.status_code
            if status == 429:
                rate_limited += 1
                self.stats.rate_limited += 1
                if rate_limited > self.max_rate_limited:
                    raise TransientLoaderError(
                        f"hubspot: still rate limited after {rate_limited} waits on {what}; "
                        "another app may be using the portal's whole budget, try later"
                    )
                self._sleep(_retry_after(response))
                continue
            if status == 403 and _category(response) == "MISSING_SCOPES":
                raise MissingScopes(_auth_message(response), _required_scopes(response))
            if status in (401, 403):
                raise LoaderError(_auth_message(response))
            if status >= 500:
                errors += 1
                if errors >= self.max_attempts:
                    raise TransientLoaderError(
                        f"hubspot: {what} answered {status} {errors} times; HubSpot may be down, try later"
                    )
                self.stats.retried_errors += 1
                self._sleep(self.backoff * 2 ** (errors - 1))
                continue
            return response

    def _sleep(self, seconds: float) -> None:
        self.stats.seconds_waiting += seconds
        time.sleep(seconds)


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


class MissingScopes(LoaderError):
    """403 MISSING_SCOPES: the private app lacks a scope (a portal without Marketing Hub)."""

    def __init__(self, message: str, scopes: list[str]) -> None:
        super().__init__(message)
        self.scopes = scopes


def _body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _category(response: requests.Response) -> str:
    return str(_body(response).get("category", ""))


def _required_scopes(response: requests.Response) -> list[str]:
    scopes: list[str] = []
    for error in _body(response).get("errors") or []:
        context = error.get("context") or {}
        for key in ("requiredGranularScopes", "requiredScopes"):
            scopes += [str(s) for s in context.get(key) or []]
    return scopes


def _auth_message(response: requests.Response) -> str:
    category = _category(response)
    if response.status_code == 401:
        return (
            f"hubspot: the access token was rejected (401 {category}); set SOURCES__HUBSPOT__ACCESS_TOKEN "
            "to a valid private-app token"
        )
    return (
        f"hubspot: the access token lacks a scope this loader needs (403 {category}); grant the private app "
        "crm.objects.contacts/companies/deals.read, marketing.campaigns.read and content"
    )


def make_client(base_url: str, token: str, session: HubSpotSession) -> RESTClient:
    return RESTClient(base_url=base_url.rstrip("/"), auth=BearerTokenAuth(token), session=session)


def check_response(response: requests.Response, what: str) -> Any:
    """The JSON of an answer the session let through (4xx other than 401/403/429 end here)."""
    if response.status_code >= 400:
        try:
            message = response.json().get("message", "")
        except ValueError:
            message = response.text[:200]
        raise LoaderError(f"hubspot: {what} answered {response.status_code}: {message}")
    return response.json()
