"""The service as deployed: ``functions-framework --target webhook`` in a subprocess, over a socket."""

import json
import os
import socket
import subprocess
import sys
import time

import requests

from tests.conftest import ROOT

BODY = json.dumps(
    {"fulfillmentInfo": {"tag": "validate-order-id"}, "sessionInfo": {"parameters": {"order_id": "ORD-1001"}}}
)
JSON = {"Content-Type": "application/json"}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """``functions-framework --target webhook`` in a subprocess, with its own environment."""

    def __init__(self, env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "BACKEND_"))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "functions_framework", "--target", "webhook", "--source", "main.py",
             "--port", str(self.port)],
            cwd=ROOT,
            env={**clean, "LOG_FORMAT": "json", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"service did not start: {self.stop()}")

    def post(self, headers=None, body=BODY):
        return requests.post(self.url, data=body, headers={**JSON, **(headers or {})}, timeout=10)

    def exchange(self, raw, timeout=5.0):
        """Send ``raw`` bytes on a new connection; ``(status, headers, body)`` of the answer.

        For what ``requests`` will not send: broken chunked framing, a body that never comes.
        """
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(raw)
            reader = sock.makefile("rb")
            status = int(reader.readline().split()[1])
            headers = {}
            while (line := reader.readline().rstrip(b"\r\n")) != b"":
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            return status, headers, reader.read(int(headers["content-length"]))

    def stop(self):
        """Stop the server and return everything it logged."""
        self.process.terminate()
        output, _ = self.process.communicate(timeout=10)
        return output.decode("utf-8", "replace")
