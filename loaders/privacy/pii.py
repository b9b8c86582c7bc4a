"""The PII key: keyed hashes (HMAC-SHA256) of personal data, alike in Python and in the warehouse.

The marts carry `email_key`, `recipient_key` and the like instead of clear text: the
HMAC-SHA256, in hex, of the UTF-8 value under the key in `SHOPSPHERE_PII_KEY` (32 to 128 hex
digits; `openssl rand -hex 32` makes one). Without the key nobody can recompute a hash from a
list of addresses. The committed `DEV_KEY` serves the local dev and CI targets only: dbt's other
targets refuse to build without the variable (macro `require_pii_key`).

The warehouse computes the same HMAC in SQL from the key's two pads (macro `hash_pii`): on DuckDB
they reach the session as variables (`loaders.privacy.dbt_plugin`, a dbt-duckdb plugin), so the key
is never in a statement, a log or an artifact.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping

KEY_ENV = "SHOPSPHERE_PII_KEY"
PREVIOUS_KEYS_ENV = "SHOPSPHERE_PII_PREVIOUS_KEYS"
# Development and CI only, published on purpose: hashes under it are recomputable by anyone.
DEV_KEY = (
    "3088a94ff56febb81f03759517ce294ebb38c7673329919e2c29f7d171d132f3"  # pragma: allowlist secret
)
BLOCK_BYTES = 64  # SHA-256's block: HMAC pads the key to it
_HEX_KEY = re.compile(r"[0-9a-fA-F]{32,128}")


class PiiKeyError(ValueError):
    """The PII key is missing or malformed."""


def key_from_env(env: Mapping[str, str] = os.environ) -> bytes:
    """The key in SHOPSPHERE_PII_KEY, or the development key when it is unset."""
    text = env.get(KEY_ENV, "").strip() or DEV_KEY
    if not _HEX_KEY.fullmatch(text) or len(text) % 2:
        raise PiiKeyError(
            f"{KEY_ENV}: expected an even number of hex digits, 32 to 128"
            " (make one with: openssl rand -hex 32)"
        )
    return bytes.fromhex(text)


def previous_keys_from_env(env: Mapping[str, str] = os.environ) -> list[bytes]:
    """Keys rotated out, in SHOPSPHERE_PII_PREVIOUS_KEYS (comma-separated): the suppression
    list's hashes made under them still match (docs/privacy.md: rotating the key)."""
    texts = [t.strip() for t in env.get(PREVIOUS_KEYS_ENV, "").split(",") if t.strip()]
    return [key_from_env({KEY_ENV: t}) for t in texts]


def pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC's inner and outer pads: the key, zero-padded to a block, XOR 0x36 and XOR 0x5c."""
    block = key.ljust(BLOCK_BYTES, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def keyed_hash(value: str, key: bytes) -> str:
    """What the warehouse's `hash_pii(value)` gives: HMAC-SHA256 of the UTF-8 value, in hex."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
