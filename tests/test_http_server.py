"""The HTTP face over a real socket: what only a real server shows.

In-process tests (``test_http.py``) cannot send broken chunked framing or a body that is still
on its way; gunicorn, under functions-framework, can receive both.
"""

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT, assert_valid_response
from tests.served import Service, free_port

HEAD = b"POST / HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
CHUNKED = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"


@pytest.fixture(scope="module")
def service():
    served = Service({"AUTH_MODES": "none", "MAX_REQUEST_BYTES": "4096"})
    yield served
    log = served.stop()
    assert "Traceback" not in log, log


def error_code(answer, status):
    got_status, headers, body = answer
    assert got_status == status, body
    assert headers["content-type"] == "application/json"
    return json.loads(body)["error"]["code"]


def test_a_chunked_body_is_read(service):
    body = json.dumps({"fulfillmentInfo": {"tag": "validate-order-id"}}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    status, _, answer = service.exchange(CHUNKED + chunked)
    assert status == 200
    assert_valid_response(answer)


@pytest.mark.parametrize(
    "framing",
    [
        b"zz\r\n{}\r\n0\r\n\r\n",  # a chunk size that is not hexadecimal
        b"-2\r\n{}\r\n0\r\n\r\n",  # a negative one
        b"2\r\n{}XX0\r\n\r\n",  # a chunk without its line end
        b"2\r\n{}\r\n0\r\nbroken trailer\r\n\r\n",  # a trailer that is not a header
    ],
    ids=["size", "negative", "terminator", "trailer"],
)
def test_broken_chunked_framing_answers_400_json_not_500(service, framing):
    assert error_code(service.exchange(CHUNKED + framing), 400) == "bad-request"


def test_an_oversized_chunked_body_answers_413(service):
    chunk = b"x" * 3000
    framing = b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2 + b"0\r\n\r\n"
    assert error_code(service.exchange(CHUNKED + framing), 413) == "payload-too-large"


@pytest.mark.parametrize(
    "head, status",
    [
        (HEAD, 413),
        (HEAD.replace(b"application/json", b"text/plain"), 415),  # refused before the size is looked at
    ],
    ids=["too-large", "wrong-type"],
)
def test_a_refusal_does_not_wait_for_the_upload_it_refuses(service, head, status):
    # 200 MB announced, one byte sent: the answer must come now, not after the upload.
    answer = service.exchange(head + b"Content-Length: 209715200\r\n\r\n{", timeout=3.0)
    assert answer[0] == status


@pytest.mark.parametrize(
    "raw, status",
    [
        # Refused before reading: 100 KB, more than the server skips before the next request.
        (HEAD + b"Content-Length: 100000\r\n\r\n{" + b" " * 99999, 413),
        (HEAD.replace(b"application/json", b"text/plain") + b"Content-Length: 100000\r\n\r\n" + b" " * 100000, 415),
        (CHUNKED + b"%x\r\n%s\r\n0\r\n\r\n" % (9000, b" " * 9000), 413),  # cut at the limit
        (CHUNKED + b"zz\r\n{}\r\n0\r\n\r\n", 400),  # broken framing: where the next request starts is unknown
        (HEAD + b"Content-Length: 10\r\n\r\n{}", 400),  # cut short: the client stops sending
    ],
    ids=["too-large", "wrong-type-too-large", "chunked-too-large", "broken-chunked", "cut-short"],
)  # fmt: skip
def test_an_answer_given_with_the_body_unread_closes_its_connection(service, raw, status):
    # Said in the answer, so that a client reusing connections does not lose its next request.
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as sock:
        sock.sendall(raw)
        if raw.endswith(b"\r\n\r\n{}"):
            sock.shutdown(socket.SHUT_WR)  # the rest of the declared body will never come
        answer = sock.makefile("rb").read()  # to the end: the server hangs up after answering
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split()[1] == b"%d" % status, answer[:300]
    assert b"\r\nConnection: close\r\n" in head + b"\r\n", head
    assert json.loads(body)["error"]["code"]


@pytest.mark.parametrize(
    "raw, status",
    [
        (CHUNKED.replace(b"json", b"xml") + b"zz\r\n{}\r\n0\r\n\r\n", 415),  # broken framing, never read
        (CHUNKED.replace(b"json", b"xml") + b"10\r\n" + b"x" * 16 + b"\r\n", 415),  # an upload that never ends
        (b"GET / HTTP/1.1\r\nHost: webhook\r\nContent-Length: 2000000\r\n\r\n", 200),  # a status needs no body
        # functions-framework's own answers (an unknown path) read none either
        (b"POST /favicon.ico HTTP/1.1\r\nHost: webhook\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 404),
        (b"POST /favicon.ico HTTP/1.1\r\nHost: webhook\r\nContent-Length: 2000000\r\n\r\n", 404),
    ],
    ids=["refused-broken-chunked", "refused-endless-chunked", "status", "unknown-path-chunked", "unknown-path"],
)  # fmt: skip
def test_an_answer_that_needs_no_body_waits_for_none_and_closes(service, raw, status):
    # Not read: functions-framework would read all of it first, with no limit, and broken
    # framing would fail there as a 500.
    got, headers, body = service.exchange(raw, timeout=3.0)
    assert got == status and headers["connection"] == "close"
    assert json.loads(body)


def test_answers_with_the_body_read_keep_the_connection(service):
    good = json.dumps({"fulfillmentInfo": {"tag": "validate-order-id"}}).encode()
    requests_on_one_connection = [
        b"{not json",  # refused, but read whole: the next request is where it should be
        good,
        b" " * 4000 + b"[]",  # within the limit, read whole, not an object
        good,
    ]
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as sock:
        reader = sock.makefile("rb")
        statuses = []
        for body in requests_on_one_connection:
            sock.sendall(HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            status = int(reader.readline().split()[1])
            headers = {}
            while (line := reader.readline().rstrip(b"\r\n")) != b"":
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            reader.read(int(headers["content-length"]))
            assert headers["connection"] == "keep-alive", (status, headers)
            statuses.append(status)
    assert statuses == [400, 200, 400, 200]


@pytest.mark.parametrize(
    "raw, status",
    [
        (HEAD + b"Content-Length: abc\r\n\r\n{}", 400),  # gunicorn: InvalidHeader
        (b"NOT A REQUEST LINE\r\n\r\n", 400),  # InvalidRequestLine
        (b"POST / HTTP/9.9\r\nHost: webhook\r\n\r\n", 400),  # InvalidHTTPVersion
        (HEAD + b"X-Long: " + b"x" * 10000 + b"\r\n\r\n", 431),  # LimitRequestHeaders
        # UnsupportedTransferCoding: gunicorn's client error, which it answers "501 Bad Request".
        (HEAD + b"Transfer-Encoding: bogus\r\n\r\n{}", 400),
    ],
    ids=["content-length", "request-line", "version", "header-size", "transfer-coding"],
)
def test_requests_gunicorn_refuses_itself_get_a_json_error_not_an_html_page(service, raw, status):
    got_status, headers, body = service.exchange(raw)
    assert got_status == status
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    error = json.loads(body)["error"]
    assert error["code"] and error["message"]
    assert error["code"] == ("bad-request" if status == 400 else "request-header-fields-too-large")


# --- start-up ------------------------------------------------------------------------------


def test_a_broken_backend_is_named_at_start_and_the_other_tags_still_serve():
    served = Service({"AUTH_MODES": "none", "BACKEND_BANK_URL": "ftp://bank.test/v1"})
    try:
        answer = served.post()  # validate-order-id: no backend at all
    finally:
        log = served.stop()
    assert answer.status_code == 200
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    errors = [line["message"] for line in lines if line["severity"] == "ERROR"]
    assert errors == ["backend 'bank' cannot be called: BACKEND_BANK_URL is not an http(s) URL"]
    error_at = next(n for n, line in enumerate(lines) if line["severity"] == "ERROR")
    first_call_at = next(n for n, line in enumerate(lines) if "call" in line)
    assert error_at < first_call_at  # said at start, not when a call needed the backend
    assert "bank.test" not in log  # a mistyped URL may carry a password: never echoed


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("MAX_REQUEST_BYTES", "0", "MAX_REQUEST_BYTES must be at least 1024, got '0'"),
        ("WEBHOOK_TIMEOUT_S", "60", "WEBHOOK_TIMEOUT_S must be between 0 and 30, got '60'"),
        ("LOG_FLUSH_MS", "1e6", "LOG_FLUSH_MS must be between 0 and 1000, got '1e6'"),
        ("LOG_FORMAT", "txt", "LOG_FORMAT must be json or text; got 'txt'"),
    ],
)
def test_a_setting_out_of_range_refuses_to_start(name, value, error):
    process = start_with({"AUTH_MODES": "none", name: value})
    assert process.returncode != 0
    assert error in (process.stderr + process.stdout).decode()


@pytest.mark.parametrize(
    "settings",
    [
        {"WEBHOOK_TIMEOUT_S": "abc", "LOG_LEVEL": "loud", "AUTH_MODES": "bogus"},  # stops in Settings
        {"LOG_LEVEL": "loud", "AUTH_MODES": "bogus"},  # stops in start()
    ],
    ids=["with-a-wrong-timeout", "logging-and-auth"],
)
def test_every_wrong_setting_is_named_when_the_start_is_refused(settings):
    process = start_with(settings)
    assert process.returncode != 0
    said = process.stderr.decode()
    refusal = said.strip().splitlines()[-1]  # the ConfigurationError, after its traceback
    assert refusal.startswith("fulfillment.config.ConfigurationError: "), said + process.stdout.decode()
    # And one JSON line where Cloud Logging looks, whatever LOG_FORMAT or LOG_LEVEL said.
    [line] = [json.loads(line) for line in process.stdout.decode().splitlines() if "cannot start" in line]
    assert line["severity"] == "CRITICAL" and line["message"].endswith(refusal.split(": ", 1)[1])
    assert "; ".join(line["problems"]) == refusal.split(": ", 1)[1] and len(line["problems"]) == len(settings)
    for error in [
        "WEBHOOK_TIMEOUT_S must be a number, got 'abc'",
        "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR; got 'LOUD'",
        "AUTH_MODES: unknown mode 'bogus'",
    ]:
        assert (error in refusal) == (error.split()[0].rstrip(":") in settings), (error, refusal)


def start_with(settings):
    """functions-framework started on the service with ``settings`` added to the environment,
    run until it exits (a refused start) or 30 s pass."""
    return subprocess.run(
        [sys.executable, "-m", "functions_framework", "--target", "webhook", "--source", "main.py",
         "--port", str(free_port())],
        cwd=ROOT,
        env={**os.environ, **settings},
        capture_output=True,
        timeout=30,
    )  # fmt: skip
