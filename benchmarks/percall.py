#!/usr/bin/env python3
"""CPU per webhook call, in-process: functions-framework's WSGI app driven without a network.

Usage: percall.py [--body FILE] [--calls N] [--runs R] NAME=SOURCE:TARGET ...

    python benchmarks/percall.py --body examples/validate-order-id.json \\
        bare=../shared/bench/baselines/bare.py:webhook svc=main.py:webhook \\
        floor=benchmarks/floor.py:webhook

Each target runs in its own process (``functions_framework.create_app``, then the same WSGI
environ as gunicorn would build, ``N`` calls per run), with authentication off and the store
backend at the harness's address; the figure is the fastest run's CPU time per call, and each
target's difference from the first. No sockets, no threads, no wrk: this isolates what a
function costs per call from what serving it costs, so it answers "how many µs does this
change save" to within a µs or two, where ``run.py``'s ratios move by ±0.03 run to run. Under
load a µs here is worth more than a µs of wall time (see README, "Speed").
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from processes import ROOT, service_env

_CHILD = r"""
import io, json, os, sys, time
source, target, body_path, calls, runs = sys.argv[1:6]
body = open(body_path, "rb").read()
calls, runs = int(calls), int(runs)
sys.path.insert(0, os.path.dirname(os.path.abspath(source)))
import functions_framework
app = functions_framework.create_app(target, os.path.abspath(source))
sys.stdout = open(os.devnull, "w")  # log lines are written, to nowhere
statuses = []

def start_response(status, headers, exc_info=None):
    statuses.append(status)

def one():
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8080", "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False, "wsgi.version": (1, 0),
        "wsgi.input_terminated": True,  # as gunicorn sets it: werkzeug reads its input as is
    }
    for _ in app(environ, start_response):
        pass

for _ in range(min(calls, 2000)):  # warm-up: first-call imports, caches
    one()
if any(not s.startswith("200") for s in statuses):
    raise SystemExit(f"{source}: answered {sorted(set(statuses))}")
best = []
for _ in range(runs):
    started = time.process_time()
    for _ in range(calls):
        one()
    best.append((time.process_time() - started) / calls * 1e6)
print(json.dumps({"us": min(best), "runs": best}), file=sys.__stdout__)
"""


def measure(source, target, body, calls, runs):
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, source, target, str(body), str(calls), str(runs)],
        env=service_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{source}: {result.stderr.strip().splitlines()[-1:]}")
    return json.loads(result.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--body", default=str(ROOT / "examples" / "validate-order-id.json"))
    parser.add_argument("--calls", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("targets", nargs="+", help="NAME=SOURCE:TARGET")
    args = parser.parse_args()
    body = Path(args.body).resolve()

    print(f"{'target':<10}{'µs/call':>9}{'vs first':>10}   runs (µs/call)")
    first = None
    for spec in args.targets:
        name, rest = spec.split("=", 1)
        source, target = rest.rsplit(":", 1)
        result = measure(str(Path(source).resolve()), target, body, args.calls, args.runs)
        first = result["us"] if first is None else first
        runs = " ".join(f"{us:.0f}" for us in result["runs"])
        print(f"{name:<10}{result['us']:>9.1f}{result['us'] - first:>+10.1f}   {runs}")


if __name__ == "__main__":
    main()
