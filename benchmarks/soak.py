#!/usr/bin/env python3
"""Soak: a minute of steady load against a 20 ms backend; does anything fail or grow?

    python benchmarks/soak.py                  # 60 s, 32 connections, THREADS=64
    python benchmarks/soak.py --seconds 20     # shorter, for a smoke test

Starts the harness's asyncio stand-in backend answering after 20 ms
(``shared/bench/slow_backend.py 18081 20``), this service under functions-framework with
``BACKEND_STORE_URL`` pointing at it, and wrk POSTing the harness's ``lookup-order`` request.
The service's RSS (VmRSS of its process tree) is sampled every 5 s. Reports errors (non-2xx
answers and wrk's socket errors: connect, read, write, timeout), req/s, p99 and RSS.

PASS when there were no errors and RSS grew less than 10% between the sample at 10 s (by then
pools, caches and lazily imported modules are warm) and the end. Exits 1 on FAIL.
"""

import argparse
import subprocess
import sys
import time

from processes import (
    ROOT,
    SHARED_BENCH,
    parse_wrk,
    require_free_ports,
    service_env,
    start_function,
    start_slow_backend,
    stop,
    tree_rss_kib,
    wait_port,
    wrk_command,
    wrk_env,
)

PORT = 18500
SAMPLE_EVERY_S = 5
WARM_AFTER_S = 10
MAX_GROWTH = 0.10


def sample_rss_during(process, pid, seconds):
    """``[(elapsed s, RSS MiB)]`` every SAMPLE_EVERY_S while ``process`` (wrk) runs, then once more."""
    samples = []
    started = time.monotonic()
    next_at = 0.0
    while process.poll() is None:
        elapsed = time.monotonic() - started
        if elapsed >= next_at:
            samples.append((elapsed, tree_rss_kib(pid) / 1024))
            next_at += SAMPLE_EVERY_S
        time.sleep(0.1)
    samples.append((time.monotonic() - started, tree_rss_kib(pid) / 1024))
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--backend-delay-ms", type=float, default=20)
    parser.add_argument("--threads", type=int, default=64, help="functions-framework THREADS")
    parser.add_argument("--body", default=str(SHARED_BENCH / "cx_request.json"))
    args = parser.parse_args()
    if args.seconds <= WARM_AFTER_S:
        print(f"note: a soak of {WARM_AFTER_S} s or less has no warm sample to compare with; "
              "growth is measured from the first sample")  # fmt: skip

    require_free_ports([18081, PORT])
    backend = start_slow_backend(args.backend_delay_ms)
    service = start_function(
        ROOT / "main.py", "webhook", PORT, env=service_env(THREADS=args.threads), cwd=ROOT
    )  # fmt: skip
    try:
        if not wait_port(PORT):
            raise SystemExit("the service did not start")
        # One short burst first, so the first sample is a started service, not an idle one.
        subprocess.run(wrk_command(PORT, conns=args.conns, seconds=1), env=wrk_env(args.body),
                       capture_output=True, check=True)  # fmt: skip
        wrk = subprocess.Popen(
            wrk_command(PORT, conns=args.conns, seconds=args.seconds),
            env=wrk_env(args.body),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        samples = sample_rss_during(wrk, service.pid, args.seconds)
        output = wrk.stdout.read()
        wrk.wait()
        if service.poll() is not None:
            raise SystemExit(f"the service exited with {service.returncode} during the soak")
    finally:
        stop(service)
        stop(backend)

    result = parse_wrk(output)
    errors = result["non2xx"] + sum(result["socket_errors"].values())
    warm = next((s for s in samples if s[0] >= WARM_AFTER_S - 0.5 and s is not samples[-1]), samples[0])
    end = samples[-1]
    growth = (end[1] - warm[1]) / warm[1]
    passed = errors == 0 and growth < MAX_GROWTH

    print(
        f"soak: {args.seconds} s, {args.conns} conns, {args.backend_delay_ms:.0f} ms backend, "
        f"THREADS={args.threads}"
    )
    print(f"requests        {result['requests']} ({result['rps']:.0f} req/s), p50 {result['p50_ms']:.1f} ms, "
          f"p99 {result['p99_ms']:.1f} ms")  # fmt: skip
    socket_errors = ", ".join(f"{kind} {count}" for kind, count in result["socket_errors"].items())
    print(f"errors          {errors} (non-2xx {result['non2xx']}; socket: {socket_errors})")
    print("RSS MiB         " + "  ".join(f"{t:.0f}s:{mib:.1f}" for t, mib in samples))
    print(f"RSS start/end   {samples[0][1]:.1f} → {end[1]:.1f} MiB; growth since {warm[0]:.0f} s: "
          f"{growth * 100:+.1f}% (limit {MAX_GROWTH * 100:.0f}%)")  # fmt: skip
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
