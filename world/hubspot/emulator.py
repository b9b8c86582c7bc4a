"""A HubSpot API emulator served over HTTP on loopback.

It implements the slice of HubSpot's public API that docs/spec.md §1c needs, with HubSpot's paths,
parameters, paging, limits and error bodies, so that a client proven here runs unchanged
against api.hubapi.com:

- CRM v3 objects: list (`limit` ≤ 100, `after`, `properties`, `associations`, `archived`),
  read by id, search (`filterGroups`, `sorts`, `properties`, `limit` ≤ 200, `after`,
  400 past 10,000 results, archived records never returned), property definitions.
- CRM v4 association batch read.
- Marketing v3 campaigns and marketing emails; the legacy email events API
  (`offset`/`hasMore`, `limit` ≤ 1000, time range and type filters).
- Private-app bearer tokens: 401 without a valid token, 403 for a token without scopes.
- Rate limits: a rolling ten-second budget per token with HubSpot's `X-HubSpot-RateLimit-*`
  headers, a separate per-second budget for search (whose answers carry no such headers),
  429 with `errorType: RATE_LIMIT`, `policyName` and `Retry-After`.
- Request URLs longer than `max_url_length` get 414, as HubSpot's front end answers.

This module is the HTTP server (tokens, faults, limits, then the answer); HubSpot's limits live
in `world.hubspot.limits` and the endpoints' semantics in `world.hubspot.api`.

Tests steer it through `EmulatorConfig` (in process) or `/__emulator/*` (over HTTP): inject
faults (5xx, 429 storms), change limits, read request counts.
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import socket
import sqlite3
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from world.hubspot.api import ApiError, HubSpotApi
from world.hubspot.api.common import missing_scopes_error
from world.hubspot.limits import EmulatorConfig, Fault, RateLimiter, rate_limit_body
from world.hubspot.store import HubSpotStore

__all__ = ["EmulatorConfig", "Fault", "HubSpotEmulator", "serve"]

# HubSpot-defined association type ids (and labels) per direction.


class HubSpotEmulator(HubSpotApi):
    """Serve a HubSpotStore over HTTP. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        store_path: str,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.store = HubSpotStore(store_path)
        self.config = config or EmulatorConfig()
        if not self.config.missing_scopes:  # a variant portal without Marketing Hub says so
            stored = self.store.get_meta("missing_scopes", {})
            self.config.missing_scopes = dict(stored) if isinstance(stored, dict) else {}
        self.limiter = RateLimiter(self.config)
        self.stats: collections.Counter[str] = collections.Counter()
        self.stats_lock = threading.Lock()
        self.log: list[tuple[str, str, int]] = []
        self._local = threading.local()
        emulator = self

        class Handler(_Handler):
            api = emulator

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HubSpotEmulator:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> HubSpotEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.store.path, timeout=30, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def inject(
        self,
        status: int,
        count: int = 1,
        path_prefix: str = "/",
        retry_after: int | None = None,
        truncate: bool = False,
    ) -> None:
        self.config.faults.append(Fault(status, count, path_prefix, retry_after, truncate))

    def record(self, method: str, path: str, status: int) -> None:
        with self.stats_lock:
            self.stats["requests"] += 1
            self.stats[f"status_{status}"] += 1
            self.log.append((method, path, status))

    def reset_stats(self) -> None:
        with self.stats_lock:
            self.stats.clear()
            self.log.clear()

    def take_fault(self, path: str) -> Fault | None:
        with self.stats_lock:
            for fault in self.config.faults:
                if path.startswith(fault.path_prefix) and fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        self.config.faults.remove(fault)
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    api: HubSpotEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _send(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        truncate: bool = False,
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if truncate:  # the connection drops mid-body, as a flaky proxy does
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        api = self.api
        parts = urlsplit(self.path)
        path = parts.path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path.startswith("/__emulator/"):
            self._admin(method, path, raw)
            return
        status = 500
        try:
            if len(self.path) > api.config.max_url_length:
                status = 414
                self._send(
                    414,
                    {"status": "error", "message": "URI Too Long", "category": "VALIDATION_ERROR"},
                )
                return
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            authorize(api.config, token, path)
            is_search = path.endswith("/search")
            headers, limited, wait = api.limiter.check(token, is_search)
            if limited is not None:
                status = 429
                self._send(429, limited, {**headers, "Retry-After": str(max(1, math.ceil(wait)))})
                return
            fault = api.take_fault(path)
            truncate = fault is not None and fault.truncate
            if fault is not None and not truncate:
                status = fault.status
                body, extra = fault_response(fault)
                self._send(fault.status, body, {**headers, **extra})
                return
            if api.config.latency_ms:
                time.sleep(api.config.latency_ms / 1000)
            try:
                payload_in: Any = json.loads(raw) if raw else None
            except json.JSONDecodeError as exc:
                raise ApiError(400, "VALIDATION_ERROR", f"Invalid input JSON: {exc}") from exc
            result = api.route(method, path, parse_qs(parts.query), payload_in)
            status, payload = result if isinstance(result, tuple) else (200, result)
            self._send(status, payload, headers, truncate=truncate)
        except ApiError as err:
            status = err.status
            self._send(err.status, err.body)
        except Exception as exc:  # the emulator must answer, as HubSpot would, with a 500
            status = 500
            self._send(
                500,
                {
                    "status": "error",
                    "message": f"internal error: {exc}",
                    "category": "INTERNAL_ERROR",
                },
            )
        finally:
            api.record(method, path, status)

    def _admin(self, method: str, path: str, raw: bytes) -> None:
        api = self.api
        body = json.loads(raw) if raw else {}
        if path == "/__emulator/stats":
            with api.stats_lock:
                self._send(200, dict(api.stats))
            return
        if path == "/__emulator/reset" and method == "POST":
            api.reset_stats()
            self._send(200, {"ok": True})
            return
        if path == "/__emulator/faults" and method == "POST":
            api.inject(
                int(body["status"]),
                int(body.get("count", 1)),
                body.get("path_prefix", "/"),
                body.get("retry_after"),
                bool(body.get("truncate", False)),
            )
            self._send(200, {"ok": True})
            return
        if path == "/__emulator/config" and method == "POST":
            for key in (
                "interval_max",
                "interval_ms",
                "search_per_second",
                "daily_max",
                "max_url_length",
                "latency_ms",
            ):
                if key in body:
                    setattr(api.config, key, body[key])
            self._send(200, {"ok": True})
            return
        self._send(404, {"status": "error", "message": "unknown emulator admin path"})


def serve(store_path: str, host: str, port: int, config: EmulatorConfig) -> None:
    """Serve in the foreground until interrupted."""
    emulator = HubSpotEmulator(store_path, config, host, port)
    print(f"HubSpot emulator on {emulator.base_url} (store {store_path})", flush=True)
    try:
        emulator.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.httpd.server_close()


def authorize(config: EmulatorConfig, token: str, path: str) -> None:
    """HubSpot's 401 for a token it does not know, and 403 `MISSING_SCOPES` for a private app
    without the scope an endpoint needs."""
    if token not in config.tokens and token not in config.tokens_without_scopes:
        raise ApiError(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )
    if token in config.tokens_without_scopes:
        raise missing_scopes_error({"requiredScopes": ["crm.objects.contacts.read"]})
    scope = next((v for k, v in config.missing_scopes.items() if path.startswith(k)), None)
    if scope is not None:
        raise missing_scopes_error({"requiredGranularScopes": [scope]})


def fault_response(fault: Fault) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and extra headers of an injected fault: HubSpot's 429 or an internal error."""
    extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.status == 429:
        body = rate_limit_body(
            "You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING"
        )
    else:
        body = {
            "status": "error",
            "message": "Internal error",
            "correlationId": str(uuid.uuid4()),
            "category": "INTERNAL_ERROR",
        }
    return body, extra
