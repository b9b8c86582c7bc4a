#!/usr/bin/env bash
# Create or refresh .venv from uv.lock. Needs only python3 (>= 3.11) with venv; uv itself is
# installed into the virtualenv from PyPI. Re-runs are no-ops until uv.lock changes.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.8"
PYTHON="${PYTHON:-python3}"
stamp=.venv/.synced-$(sha1sum uv.lock | cut -c1-12)

if [ -f "$stamp" ] && [ -x .venv/bin/python ]; then
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || { echo "bootstrap: Python >= 3.11 is required (found $("$PYTHON" --version 2>&1)); set PYTHON=..." >&2; exit 1; }
  echo "bootstrap: creating .venv with $("$PYTHON" --version)" >&2
  "$PYTHON" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  # A virtualenv made by uv itself has no pip: give it one first.
  .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip --upgrade >/dev/null
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
fi
echo "bootstrap: installing locked dependencies" >&2
# --inexact keeps uv itself, which is not part of the lock.
UV_PROJECT_ENVIRONMENT=.venv UV_COMPILE_BYTECODE=1 .venv/bin/uv sync --frozen --inexact --quiet
rm -f .venv/.synced-*
touch "$stamp"
