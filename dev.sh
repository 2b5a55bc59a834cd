#!/usr/bin/env bash
# What a newcomer needs, on a fresh machine with Python 3.11+ (the first two are all it takes):
#
#   ./dev.sh serve     serve the webhook on http://localhost:8080 (embedded demo store, no auth)
#   ./dev.sh test      run the test suite (what CI runs)
#   ./dev.sh lint      ruff's checks and formatting, as CI runs them after the tests
#   ./dev.sh format    apply ruff's safe fixes and its formatting (what lint asks for)
#
# Each creates .venv and installs requirements-dev.txt on first use (and again when it changes).
# Extra arguments go to functions-framework or pytest: ./dev.sh test -k orders
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

ensure_venv() {
  # One install at a time: `serve` and `test` started together would otherwise both build
  # .venv, and one would run before pip was in it. The lock (flock, which macOS's shell lacks,
  # hence Python) is let go when the process ends, however it ends: no stale lock to remove.
  mkdir -p "$VENV"
  "$PYTHON" - "$VENV" <<'PY'
import fcntl, hashlib, os, subprocess, sys, venv

root = sys.argv[1]
with open(os.path.join(root, ".lock"), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    stamp = os.path.join(root, ".requirements.sha256")
    with open("requirements.txt", "rb") as runtime, open("requirements-dev.txt", "rb") as dev:
        want = hashlib.sha256(runtime.read() + dev.read()).hexdigest()
    have = open(stamp).read().strip() if os.path.exists(stamp) else None
    if have != want:  # reinstall only when the requirements changed since the last install
        if have is None:  # new, or a build that was cut short: (re)make it, pip included
            venv.create(root, with_pip=True)
        python = os.path.join(root, "bin", "python")
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements-dev.txt"],
            check=True,
        )
        with open(stamp, "w") as out:
            out.write(want + "\n")
PY
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
  lint)
    ensure_venv
    "$VENV/bin/ruff" check . "$@"
    exec "$VENV/bin/ruff" format --check .
    ;;
  format)
    ensure_venv
    "$VENV/bin/ruff" check --fix . "$@"
    exec "$VENV/bin/ruff" format .
    ;;
  *)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
