#!/usr/bin/env bash
# Sets up a fresh machine for development and CI. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
echo "==> Python venv (.venv) with pinned dependencies"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

echo "==> checkov in its own venv (.venv-checkov)"
[ -x .venv-checkov/bin/python ] || "$PYTHON" -m venv .venv-checkov
.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt

echo "==> Headless Chromium for the report rendering test"
if command -v chromium >/dev/null 2>&1; then
  echo "chromium already installed: $(chromium --version 2>/dev/null | head -1)"
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
  echo "installed $(chromium --version 2>/dev/null | head -1)"
else
  echo "chromium is missing and this is not a root Debian shell: install it with" >&2
  echo "  sudo apt-get install chromium" >&2
  exit 1
fi
echo "==> done: run 'make test'"
