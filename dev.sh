#!/usr/bin/env bash
# The two commands a newcomer needs, on a fresh machine with Python 3.11+:
#
#   ./dev.sh serve     serve the webhook on http://localhost:8080 (embedded demo store, no auth)
#   ./dev.sh test      run the test suite (what CI runs)
#
# Both create .venv and install requirements-dev.txt on first use (and again when it changes).
# Extra arguments go to functions-framework or pytest: ./dev.sh test -k orders
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when the requirements changed since the last install.
  local stamp="$VENV/.requirements.sha256"
  local want
  want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    echo "$want" >"$stamp"
  fi
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  serve)
    ensure_venv
    exec "$VENV/bin/functions-framework" --target webhook --source main.py --port "${PORT:-8080}" "$@"
    ;;
  test)
    ensure_venv
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
