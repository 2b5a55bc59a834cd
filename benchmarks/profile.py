#!/usr/bin/env python3
"""Where the time goes: py-spy samples the service's worker while wrk loads it.

    python benchmarks/profile.py                          # lookup-order, 0 ms nginx backend, 10 s
    python benchmarks/profile.py --body examples/validate-order-id.json   # no backend call
    python benchmarks/profile.py --backend-delay-ms 50 --conns 64 --threads 64
    python benchmarks/profile.py --gil                    # only samples holding the GIL (CPU)

Starts the same stand-in backend and the same load as ``run.py``'s scenarios, attaches
``py-spy record`` to the gunicorn worker (the process that runs our code), and prints:

* the share of samples by package (our ``fulfillment``/``handlers`` against flask, werkzeug,
  gunicorn, requests, urllib3, each standard library module), by the frame that was running;
* the top functions by self samples: where the interpreter actually was;
* the top functions by total samples: what the time was spent under.

The collapsed stacks are kept in ``benchmarks/results/profile-*.txt`` (git-ignored); speedscope
(https://www.speedscope.app) opens that file as a flame graph. Sampling pauses the worker
~100 times a second, so the req/s printed is a little below an unprofiled run.
"""

import argparse
import collections
import datetime
import re
import subprocess
import sys
import time
from pathlib import Path

from processes import (
    ROOT,
    SHARED_BENCH,
    descendants,
    parse_wrk,
    require_free_ports,
    service_env,
    start_function,
    start_nginx_backend,
    start_slow_backend,
    stop,
    wait_port,
    wrk_command,
    wrk_env,
)

PORT = 18600
RESULTS = ROOT / "benchmarks" / "results"
# A collapsed-stack frame, as py-spy --nolineno writes it: "function (path/of/file.py)".
_FRAME_RE = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*)\)$")


def py_spy():
    beside = Path(sys.executable).parent / "py-spy"
    if not beside.exists():
        raise SystemExit("py-spy is not installed in this environment: pip install py-spy")
    return str(beside)


def worker_pid(master_pid, timeout_s=10.0):
    """gunicorn's worker: the child of the functions-framework process that serves requests."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        children = descendants(master_pid)
        if children:
            return children[0]
        time.sleep(0.1)
    return master_pid  # no worker process: the server runs in the master itself


def short_path(path):
    """``.../site-packages/gunicorn/util.py`` → ``gunicorn/util.py``; ours relative to the root;
    the standard library's as ``stdlib/json/encoder.py``."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    root = str(ROOT) + "/"
    if path.startswith(root):
        return path[len(root) :]
    if "/lib/python3" in path:
        return "stdlib/" + path.split("/lib/python3", 1)[1].split("/", 1)[1]
    return path


def package_of(path):
    """The package a frame belongs to: ``fulfillment``, ``gunicorn``, ``stdlib/json``, ..."""
    parts = short_path(path).split("/")
    return "/".join(parts[: 2 if parts[0] == "stdlib" else 1]).removesuffix(".py")


def read_collapsed(path):
    """``[(frames outermost first, samples)]`` from py-spy's raw (collapsed stack) output."""
    stacks = []
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def frame_parts(frame):
    match = _FRAME_RE.match(frame)
    return (match["function"], match["file"]) if match else (frame, "")


def summarize(stacks, top):
    total = sum(count for _, count in stacks)
    if not total:
        return "py-spy recorded no samples (was the worker busy? try more --conns or --seconds)"
    by_package = collections.Counter()
    self_time = collections.Counter()
    total_time = collections.Counter()
    for frames, count in stacks:
        function, path = frame_parts(frames[-1])
        by_package[package_of(path)] += count
        self_time[f"{function} ({short_path(path)})"] += count
        for frame in set(frames):
            function, path = frame_parts(frame)
            total_time[f"{function} ({short_path(path)})"] += count

    def block(title, counter, limit):
        lines = [title]
        lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(limit)]
        return "\n".join(lines)

    return "\n\n".join(
        [
            f"{total} samples",
            block("by package (self):", by_package, 15),
            block(f"top {top} functions by self samples:", self_time, top),
            block(f"top {top} functions by total samples (including callees):", total_time, top),
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--threads", type=int, help="functions-framework THREADS (default: its own)")
    parser.add_argument("--backend-delay-ms", type=float, default=0, help="0: nginx; >0: slow backend")
    parser.add_argument("--body", default=str(SHARED_BENCH / "cx_request.json"))
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL (CPU time)")
    parser.add_argument("--idle", action="store_true", help="include threads waiting on I/O or locks")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    require_free_ports([18081, PORT])
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    collapsed = RESULTS / f"profile-{stamp}.txt"
    env = service_env(**({"THREADS": args.threads} if args.threads else {}))
    backend = start_slow_backend(args.backend_delay_ms) if args.backend_delay_ms else start_nginx_backend()
    service = start_function(ROOT / "main.py", "webhook", PORT, env=env, cwd=ROOT)
    try:
        if not wait_port(PORT):
            raise SystemExit("the service did not start")
        body = str(Path(args.body).resolve())
        subprocess.run(
            wrk_command(PORT, conns=args.conns, seconds=1), env=wrk_env(body), capture_output=True, check=True
        )  # fmt: skip  (warm-up: imports, pools)
        # wrk runs a second longer than the recording, so every sample is taken under load.
        wrk = subprocess.Popen(
            wrk_command(PORT, conns=args.conns, seconds=args.seconds + 1),
            env=wrk_env(body),
            stdout=subprocess.PIPE,
            text=True,
        )
        record = [py_spy(), "record", "--pid", str(worker_pid(service.pid)), "--duration", str(args.seconds),
                  "--format", "raw", "--nolineno", "--full-filenames", "--output", str(collapsed)]  # fmt: skip
        if args.gil:
            record.append("--gil")
        if args.idle:
            record.append("--idle")
        spied = subprocess.run(record, capture_output=True, text=True, check=False)
        output, _ = wrk.communicate()
    finally:
        stop(service)
        stop(backend)
    if spied.returncode != 0:
        raise SystemExit(f"py-spy failed:\n{spied.stdout}{spied.stderr}")

    load = parse_wrk(output)
    print(f"load: {args.conns} conns, {load['rps']:.0f} req/s under sampling, p99 {load['p99_ms']:.1f} ms, "
          f"{load['non2xx']} non-2xx")  # fmt: skip
    print(summarize(read_collapsed(collapsed), args.top))
    print(f"\ncollapsed stacks: {collapsed.relative_to(ROOT)} (open in speedscope)")


if __name__ == "__main__":
    main()
