"""Start, watch and stop the local servers a benchmark needs (loopback only).

Shared by ``coldstart_auth.py``, ``soak.py`` and ``profile.py``. ``run.py`` drives the shared
harness scripts instead and only borrows the paths and the clean environment from here.

Everything started here runs in its own process group, so stopping it also stops what it
started (gunicorn's worker under functions-framework).
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# shared/ is the sibling of the repository root, as in every checkout and in CI.
SHARED_BENCH = ROOT.parent / "shared" / "bench"
EXAMPLES = ROOT / "examples"
BACKEND_PORT = 18081
BACKEND_URL = f"http://127.0.0.1:{BACKEND_PORT}"

# Settings a developer's shell may carry that would change what is measured.
_INHERITED_PREFIXES = ("BACKEND_", "AUTH_", "WEBHOOK_", "LOG_")
_INHERITED_NAMES = ("K_SERVICE", "THREADS", "WORKERS", "DEMO_STORE", "ORDER_API", "MAX_REQUEST_BYTES")


def functions_framework():
    """The functions-framework launcher of this interpreter's environment (the venv's)."""
    beside = Path(sys.executable).parent / "functions-framework"
    if beside.exists():
        return str(beside)
    found = shutil.which("functions-framework")
    if not found:
        raise SystemExit("functions-framework is not installed: . .venv/bin/activate first")
    return found


def clean_env(**overrides):
    """``os.environ`` without the service's own settings, plus ``overrides``.

    The service is measured as configured here, not as the developer's shell happens to be.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_INHERITED_PREFIXES) and name not in _INHERITED_NAMES
    }
    env["FF"] = functions_framework()
    env.update({name: str(value) for name, value in overrides.items()})
    return env


def service_env(**overrides):
    """The environment of this service under test: store backend on the bench's stand-in."""
    return clean_env(BACKEND_STORE_URL=BACKEND_URL, AUTH_MODES="none", **overrides)


def port_is_free(port):
    with socket.socket() as probe:
        # Connections of a run that just ended linger in TIME_WAIT; they stop a plain bind but
        # not the servers (which set SO_REUSEADDR), so only a listener counts as busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def require_free_ports(ports):
    """Stop early with a clear message when another engineer's benchmark holds our ports."""
    busy = [port for port in ports if not port_is_free(port)]
    if busy:
        raise SystemExit(
            f"port(s) {', '.join(map(str, busy))} on 127.0.0.1 are in use: is another benchmark "
            "running on this machine? Wait for it to finish; the figures would be wrong anyway."
        )


def wait_port(port, timeout_s=20.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start_nginx_backend():
    """The harness's nginx stand-in: GET /orders/ORD-<n> answered from memory, 0 ms."""
    process = subprocess.Popen(
        ["nginx", "-p", tempfile.mkdtemp(prefix="bench-nginx-"), "-c", str(SHARED_BENCH / "nginx.conf")],
        start_new_session=True,
    )
    if not wait_port(BACKEND_PORT, 10):
        stop(process)
        raise SystemExit("the nginx stand-in backend did not start (is nginx installed?)")
    return process


def start_slow_backend(delay_ms):
    """The harness's asyncio stand-in answering after ``delay_ms`` (-1: never)."""
    process = subprocess.Popen(
        [sys.executable, str(SHARED_BENCH / "slow_backend.py"), str(BACKEND_PORT), str(delay_ms)],
        start_new_session=True,
    )
    if not wait_port(BACKEND_PORT, 10):
        stop(process)
        raise SystemExit("the slow stand-in backend did not start")
    return process


def start_function(source, target, port, *, env, cwd=None, log_path=None):
    """``functions-framework --source SOURCE --target TARGET --port PORT`` in its own group."""
    output = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    try:
        return subprocess.Popen(
            [env.get("FF") or functions_framework(), "--source", str(source), "--target", target,
             "--port", str(port)],
            cwd=cwd,
            env={**env, "PORT": str(port)},
            stdout=output,
            stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    finally:
        if log_path:
            output.close()  # the child holds its own descriptor


def stop(process):
    """SIGTERM the process group, then SIGKILL if it lingers; always reaps."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def descendants(pid):
    """Every process under ``pid`` (children, their children, ...)."""
    found = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as children:
                kids = [int(child) for child in children.read().split()]
        except OSError:
            continue
        found.extend(kids)
        pending.extend(kids)
    return found


def tree_rss_kib(pid):
    """VmRSS of ``pid`` and all its descendants, in KiB (coldstart.py's measure, recursively)."""
    total = 0
    for member in [pid, *descendants(pid)]:
        try:
            with open(f"/proc/{member}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass  # exited between the listing and the read
    return total


def _milliseconds(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_command(port, *, conns, seconds, timeout_s=None):
    command = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(SHARED_BENCH / "post.lua")]
    if timeout_s:
        command.append(f"--timeout={timeout_s}s")
    return [*command, f"http://127.0.0.1:{port}/"]


def wrk_env(body):
    return {**os.environ, "BODY": str(body)}


def parse_wrk(output):
    """req/s, p50/p99 ms, non-2xx and socket errors from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rps:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    latency = {p: _milliseconds(v, u) for p, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", output)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )  # fmt: skip
    requests = re.search(r"(\d+) requests in", output)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": latency.get("50"),
        "p99_ms": latency.get("99"),
        "requests": int(requests.group(1)) if requests else 0,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": dict(
            zip(("connect", "read", "write", "timeout"), map(int, socket_errors.groups()), strict=True)
        )
        if socket_errors
        else {"connect": 0, "read": 0, "write": 0, "timeout": 0},
    }
