"""Caller authentication end to end: the real functions-framework server, configured by
environment only, in front of every handler and the status page."""

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from fulfillment.auth import FORBIDDEN_MESSAGE, UNAUTHENTICATED_MESSAGE
from tests import auth_keys
from tests.conftest import ROOT, assert_valid_response
from tests.served import Service, free_port


class CertServer:
    """Google's key endpoint, on loopback: serves the test key's certificate and counts fetches.
    With ``trickle_s``, one byte of the document at a time, that long apart."""

    def __init__(self, *keys, trickle_s=0.0):
        document = json.dumps(auth_keys.certs_document(*keys)).encode()
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=3600")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                if not trickle_s:
                    self.wfile.write(document)
                    return
                for i in range(len(document)):
                    self.wfile.write(document[i : i + 1])
                    self.wfile.flush()
                    time.sleep(trickle_s)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth2/v1/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def refused(response, status):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    # Nothing an attacker could use: no reason, no claim, no configuration.
    assert error["message"] == (UNAUTHENTICATED_MESSAGE if status == 401 else FORBIDDEN_MESSAGE)
    return response


@pytest.fixture(scope="module")
def signing_key():
    return auth_keys.signing_key("service-test")


@pytest.fixture(scope="module")
def id_token_service(signing_key):
    certs = CertServer(signing_key)
    service = Service(
        {
            "AUTH_MODES": "id-token",
            "AUTH_AUDIENCES": auth_keys.AUDIENCE,
            "AUTH_PROJECT_NUMBER": auth_keys.PROJECT_NUMBER,
            "AUTH_CERTS_URL": certs.url,
        }
    )
    yield service, certs
    service.stop()
    certs.close()


def test_the_agents_id_token_gets_in_and_keys_are_fetched_once(id_token_service, signing_key):
    service, certs = id_token_service
    token = auth_keys.mint(signing_key)
    for _ in range(5):
        response = service.post(auth_keys.bearer(token))
        assert response.status_code == 200
        assert_valid_response(response.content)
    assert certs.fetches == 1


def test_a_key_fetch_that_trickles_in_ends_within_its_timeout():
    # urllib's timeout bounds each socket read; a byte every 0.1 s would never trip it.
    from fulfillment.google_keys import KeysUnavailable, http_get_json

    server = CertServer(auth_keys.signing_key("k1"), trickle_s=0.1)
    try:
        started = time.monotonic()
        with pytest.raises(KeysUnavailable, match=r"no whole answer within 0\.50 s"):
            http_get_json(server.url, 0.5)
        assert time.monotonic() - started < 0.8
        assert server.fetches == 1
    finally:
        server.close()


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("missing", 401),
        ("wrong-scheme", 401),
        ("malformed", 401),
        ("wrong-audience", 401),
        ("expired", 401),
        ("another-key", 401),
        ("unverified-email", 403),
        ("other-project", 403),
    ],
)
def test_bad_id_tokens_are_refused(id_token_service, signing_key, case, status):
    service, _ = id_token_service
    mint = auth_keys.mint
    headers = {
        "missing": {},
        "wrong-scheme": {"Authorization": f"Token {mint(signing_key)}"},
        "malformed": auth_keys.bearer("a.b"),
        "wrong-audience": auth_keys.bearer(mint(signing_key, aud="https://elsewhere.example.com")),
        "expired": auth_keys.bearer(mint(signing_key, now=time.time() - 7200)),
        "another-key": auth_keys.bearer(mint(auth_keys.signing_key("intruder"), kid="service-test")),
        "unverified-email": auth_keys.bearer(mint(signing_key, email_verified=False)),
        "other-project": auth_keys.bearer(mint(signing_key, email=auth_keys.OTHER_PROJECT_AGENT)),
    }[case]
    response = refused(service.post(headers), status)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_status_page_is_behind_auth_too(id_token_service, signing_key):
    service, _ = id_token_service
    refused(requests.get(service.url, timeout=10), 401)
    response = requests.get(service.url, headers=auth_keys.bearer(auth_keys.mint(signing_key)), timeout=10)
    assert response.status_code == 200 and "lookup-order" in response.json()["tags"]


def test_basic_or_header_token_with_secrets_never_logged():
    password, token = "correct-horse-battery-staple", "s3cr3t-header-token-value"
    service = Service(
        {
            "AUTH_MODES": "basic,header",
            "AUTH_BASIC_USERNAME": "dialogflow",
            "AUTH_BASIC_PASSWORD": password,
            "AUTH_HEADER_NAME": "X-Webhook-Token",
            "AUTH_HEADER_VALUE": token,
        }
    )
    try:
        assert service.post(auth_keys.basic("dialogflow", password)).status_code == 200
        assert service.post({"X-Webhook-Token": token}).status_code == 200
        response = refused(service.post(auth_keys.basic("dialogflow", "wrong")), 401)
        assert "Basic" in response.headers["WWW-Authenticate"]
        refused(service.post({"X-Webhook-Token": token[:-1] + "X"}), 401)
        refused(service.post(), 401)
    finally:
        logs = service.stop()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(line.get("call", {}).get("status") == 401 for line in lines)
    for secret in (password, token, "wrong"):
        assert secret not in logs


def test_no_auth_must_be_chosen_and_is_announced_loudly():
    service = Service({"AUTH_MODES": "none"})
    try:
        assert service.post().status_code == 200
    finally:
        logs = service.stop()
    assert "AUTHENTICATION IS OFF" in logs


def test_a_misconfigured_service_refuses_to_start():
    process = subprocess.run(
        [sys.executable, "-m", "functions_framework", "--target", "webhook", "--source", "main.py",
         "--port", str(free_port())],
        cwd=ROOT,
        env={**os.environ, "AUTH_MODES": "id-token"},  # no audience, no project number
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    assert process.returncode != 0
    assert b"AUTH_AUDIENCES" in process.stderr + process.stdout
