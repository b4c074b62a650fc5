#!/usr/bin/env bash
# Sets up a fresh machine for development and CI. Safe to run again.
# The five steps are independent (three venvs, a Debian package, the JS SDK's npm packages), so they run
# side by side; each step's output is shown when it ends, and the script fails if any step does.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

python_venv() {
  echo "==> Python venv (.venv) with pinned dependencies"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
}

checkov_venv() {
  echo "==> checkov in its own venv (.venv-checkov)"
  [ -x .venv-checkov/bin/python ] || "$PYTHON" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
}

cid_venv() {
  echo "==> cid-cmd (the Cloud Intelligence Dashboards CLI, make dashboards) in its own venv (.venv-cid)"
  [ -x .venv-cid/bin/python ] || "$PYTHON" -m venv .venv-cid
  .venv-cid/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-cid.txt
}

chromium_package() {
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
    return 1
  fi
}

js_sdk_packages() {
  echo "==> The AWS SDK for JavaScript v3 for the JS SDK tests (tests/js, npm ci from package-lock.json)"
  if ! command -v npm >/dev/null 2>&1; then
    echo "node and npm are missing: install Node.js 20 or later (e.g. sudo apt-get install nodejs npm)" >&2
    return 1
  fi
  (cd tests/js && npm ci --no-audit --no-fund)
}

steps=(python_venv checkov_venv cid_venv chromium_package js_sdk_packages)
pids=()
for step in "${steps[@]}"; do
  "$step" >"$LOGS/$step.log" 2>&1 &
  pids+=("$!")
done
failed=0
for i in "${!steps[@]}"; do
  if wait "${pids[$i]}"; then
    cat "$LOGS/${steps[$i]}.log"
  else
    cat "$LOGS/${steps[$i]}.log" >&2
    echo "install: ${steps[$i]} failed" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
echo "==> done: run 'make test'"
