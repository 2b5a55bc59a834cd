#!/usr/bin/env python3
"""Cold start with ID-token auth on: spawn → first 200, then RSS after 200 more calls.

Usage: coldstart_auth.py [--runs N] [--body FILE] NAME=SOURCE:TARGET[:DIR] ...

The shared harness's ``coldstart.py`` sends no Authorization header, so it cannot measure the
service with ``AUTH_MODES=id-token``. This is the same measurement (same stand-in backend,
same polling, same 200 follow-up calls, RSS of the process tree, medians, ratio to the first
target, same table) with every call carrying ``Authorization: Bearer <ID token>``: a token
signed by a self-made RSA key (``tests/auth_keys.py``) for the Dialogflow service agent of
``AUTH_PROJECT_NUMBER``, verified against a loopback certificate server (``AUTH_CERTS_URL``).
Targets that do not check tokens (bare functions-framework) get the same header and ignore it.

After each run one call without the header must be refused (401/403) by every target that
has auth on, so a misconfiguration cannot pass as a fast cold start; the table says which
targets enforced it.
"""

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from processes import (
    ROOT,
    SHARED_BENCH,
    clean_env,
    start_function,
    start_nginx_backend,
    stop,
    tree_rss_kib,
)

sys.path.insert(0, str(ROOT))  # for tests.auth_keys
from tests import auth_keys

FIRST_PORT = 18400
FOLLOW_UP_CALLS = 200
FIRST_ANSWER_LIMIT_S = 30.0
CERTS_PATH = "/oauth2/v1/certs"


class CertificateServer:
    """Serves the signing key's certificate as Google serves its own (kid → PEM), on loopback."""

    def __init__(self, document):
        body = json.dumps(document).encode()
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.fetches += 1
                self.send_response(200 if self.path == CERTS_PATH else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=3600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{CERTS_PATH}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()


def post(port, body, headers):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=body, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def auth_env(certs_url):
    return clean_env(
        BACKEND_STORE_URL="http://127.0.0.1:18081",
        AUTH_MODES="id-token",
        AUTH_AUDIENCES=auth_keys.AUDIENCE,
        AUTH_PROJECT_NUMBER=auth_keys.PROJECT_NUMBER,
        AUTH_CERTS_URL=certs_url,
    )


def measure_once(name, source, target, cwd, port, env, body, authorization):
    started = time.perf_counter()
    process = start_function(source, target, port, env=env, cwd=cwd)
    try:
        while True:
            try:
                if post(port, body, authorization) == 200:
                    break
            except OSError:
                time.sleep(0.01)
            if process.poll() is not None:
                raise SystemExit(f"{name}: exited with {process.returncode} before answering")
            if time.perf_counter() - started > FIRST_ANSWER_LIMIT_S:
                raise SystemExit(f"{name}: no 200 in {FIRST_ANSWER_LIMIT_S:.0f} s")
        cold_s = time.perf_counter() - started
        for _ in range(FOLLOW_UP_CALLS):
            status = post(port, body, authorization)
            if status != 200:
                raise SystemExit(f"{name}: a follow-up call answered {status}")
        rss_mib = tree_rss_kib(process.pid) / 1024
        refused = post(port, body, {}) in (401, 403)
        return cold_s, rss_mib, refused
    finally:
        stop(process)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--body", default=str(SHARED_BENCH / "cx_request.json"))
    parser.add_argument("targets", nargs="+", help="NAME=SOURCE:TARGET[:DIR]")
    args = parser.parse_args()
    body = Path(args.body).read_bytes()

    key = auth_keys.signing_key("bench-key-1")
    authorization = auth_keys.bearer(auth_keys.mint(key))

    results = {}
    enforced = {}
    backend = start_nginx_backend()
    try:
        with CertificateServer(auth_keys.certs_document(key)) as certs:
            env = auth_env(certs.url)
            for _ in range(args.runs):
                for index, spec in enumerate(args.targets):
                    name, rest = spec.split("=", 1)
                    parts = rest.split(":")
                    cwd = parts[2] if len(parts) > 2 else None
                    cold_s, rss_mib, refused = measure_once(
                        name, parts[0], parts[1], cwd, FIRST_PORT + index, env, body, authorization
                    )
                    results.setdefault(name, []).append((cold_s, rss_mib))
                    enforced[name] = enforced.get(name, True) and refused
    finally:
        stop(backend)

    base = None
    print(f"{'target':<14}{'cold s':>8}{'ratio':>7}{'RSS MiB':>9}{'ratio':>7}  auth")
    for name, values in results.items():
        cold = statistics.median(v[0] for v in values)
        rss = statistics.median(v[1] for v in values)
        base = base or (cold, rss)
        checked = "enforced" if enforced[name] else "not checked"
        print(f"{name:<14}{cold:>8.3f}{cold / base[0]:>7.2f}{rss:>9.1f}{rss / base[1]:>7.2f}  {checked}")


if __name__ == "__main__":
    main()
