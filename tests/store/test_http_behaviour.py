"""The store's HTTP: JSON for every error, methods, malformed requests and bodies,
pipelining, chunked bodies, keep-alive, and what it logs (never to stderr)."""

import json
import logging
import re
import socket
import struct
import time

import pytest
import requests

import demo_store
from demo_store import server as store_server
from tests.store.kit import TIMEOUT, answer, get

# --- raw HTTP, for what requests will not send ---------------------------------------------------


def read_response(stream):
    """(status, headers with lower-case names, body) of one HTTP/1.1 response read from ``stream``."""
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body


def raw_exchange(store, data, responses=1):
    """Send ``data`` on a new connection and read ``responses`` answers; also whether it was closed."""
    port = int(store.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        stream = sock.makefile("rb")
        answers = [read_response(stream) for _ in range(responses)]
        sock.settimeout(0.5)
        try:
            closed = stream.read(1) == b""
        except TimeoutError:
            closed = False
    return answers, closed


# --- HTTP behaviour ------------------------------------------------------------------------------


def test_health_and_index(store):
    health = get(store, "/healthz")
    assert answer(health, 200) == {"status": "ok"}
    assert health.headers["Server"] == "demo_store/1"
    assert "POST /orders/{order_id}/returns" in answer(get(store, "/"), 200)["endpoints"]


def test_an_unknown_path_is_a_json_404(store):
    # Coded apart from a missing record, so a call to an endpoint not written yet is not
    # said to the caller as "I couldn't find that".
    assert answer(get(store, "/admin"), 404) == {"error": "no endpoint /admin", "code": "no-such-endpoint"}
    assert answer(get(store, "/orders/ORD-1001/items"), 404)["code"] == "no-such-endpoint"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/healthz", "GET, HEAD"),
        ("DELETE", "/orders/ORD-1001", "GET, HEAD"),
        ("GET", "/orders/ORD-1001/returns", "POST"),
        ("PUT", "/appointments", "POST"),
        ("OPTIONS", "/inventory", "GET, HEAD"),
    ],
)
def test_a_wrong_method_is_a_json_405_with_allow(store, method, path, allow):
    response = requests.request(method, store.url + path, timeout=TIMEOUT)
    assert answer(response, 405)["error"] == f"method {method} not allowed here"
    assert response.headers["Allow"] == allow


def test_head_is_get_without_the_body(store):
    response = requests.head(store.url + "/healthz", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) == len(get(store, "/healthz").content)


def test_an_unknown_method_is_answered_in_json_and_the_connection_closed(store):
    [(status, headers, body)], closed = raw_exchange(store, b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 501
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "Unsupported method ('BREW')"}
    assert headers["connection"] == "close"
    assert closed


@pytest.mark.parametrize(
    "request_bytes",
    [b"NONSENSE\r\n\r\n", b"GET /healthz HTTP/1.1 extra\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n"],
)
def test_a_malformed_request_line_is_answered_in_json(store, request_bytes):
    [(status, headers, body)], closed = raw_exchange(store, request_bytes)
    assert 400 <= status < 600
    assert headers["content-type"] == "application/json"
    assert "error" in json.loads(body)
    assert closed


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"Content-Length: 1000000\r\n", 413),
        (b"Content-Length: abc\r\n", 400),
        (b"Content-Length: 5\r\nContent-Length: 6\r\n", 400),
        (b"Transfer-Encoding: gzip\r\n", 400),
    ],
)
def test_an_unreadable_body_is_refused_and_the_connection_closed(store, head, status):
    request = b"POST /orders/ORD-1001/returns HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n"
    [(answered, headers, body)], closed = raw_exchange(store, request)
    assert answered == status
    assert "error" in json.loads(body)
    assert headers["connection"] == "close"
    assert closed


def test_pipelined_requests_are_answered_in_order_on_one_connection(fresh_store):
    body = b'{"item_id": "SKU-100", "reason": "x"}'
    data = (
        b"POST /orders/ORD-1001/returns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
        + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    (first, second), closed = raw_exchange(fresh_store, data, responses=2)
    assert first[0] == 201
    assert json.loads(first[2])["item_id"] == "SKU-100"
    assert second[0] == 200
    assert json.loads(second[2]) == {"status": "ok"}
    assert not closed
    assert fresh_store.connections_accepted == 1


def test_a_chunked_request_body_is_read_in_full(fresh_store):
    with requests.Session() as session:
        # A generator makes requests send Transfer-Encoding: chunked.
        chunks = (part for part in [b'{"item_id": "SK', b'U-100", "reas', b'on": "x"}'])
        response = session.post(
            fresh_store.url + "/orders/ORD-1001/returns",
            data=chunks,
            headers={"Content-Type": "application/json"},
            timeout=TIMEOUT,
        )
        assert answer(response, 201)["item_id"] == "SKU-100"
        assert answer(session.get(fresh_store.url + "/healthz", timeout=TIMEOUT), 200)
    assert fresh_store.connections_accepted == 1


def test_keep_alive_reuses_one_connection_for_many_requests(fresh_store):
    with requests.Session() as session:
        for path in [
            "/healthz",
            "/orders/ORD-1001",
            "/orders/ORD-9999",
            "/nope",
            "/inventory?product_id=bad",
        ]:
            response = session.get(fresh_store.url + path, timeout=TIMEOUT)
            assert response.headers["Content-Type"] == "application/json"
            assert "Connection" not in response.headers
        answer(session.post(fresh_store.url + "/orders/ORD-1001/returns", data=b"junk", timeout=TIMEOUT), 400)
        answer(
            session.post(
                fresh_store.url + "/orders/ORD-1001/returns",
                json={"item_id": "SKU-100", "reason": "x"},
                timeout=TIMEOUT,
            ),
            201,
        )
        answer(session.delete(fresh_store.url + "/healthz", timeout=TIMEOUT), 405)
        answer(session.get(fresh_store.url + "/healthz", timeout=TIMEOUT), 200)
    assert fresh_store.connections_accepted == 1


def test_each_new_client_connection_is_counted(fresh_store):
    for _ in range(3):
        with requests.Session() as session:
            session.get(fresh_store.url + "/healthz", timeout=TIMEOUT)
    assert fresh_store.connections_accepted == 3


def test_an_unexpected_failure_is_a_json_500_and_logged(fresh_store, monkeypatch, caplog):
    def broken(call, order_id):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(fresh_store._api, "get_order", broken)
    with requests.Session() as session, caplog.at_level(logging.ERROR, logger="demo_store"):
        assert answer(session.get(fresh_store.url + "/orders/ORD-1001", timeout=TIMEOUT), 500) == {
            "error": "internal error"
        }
        assert answer(session.get(fresh_store.url + "/healthz", timeout=TIMEOUT), 200)
    assert fresh_store.connections_accepted == 1
    [record] = [r for r in caplog.records if r.name == "demo_store"]
    assert "database on fire" in record.exc_text


def test_requests_are_logged_at_debug_and_nothing_reaches_stderr(store, caplog, capfd):
    with caplog.at_level(logging.DEBUG, logger="demo_store"):
        get(store, "/healthz")
        get(store, "/nope")
        raw_exchange(store, b"BREW / HTTP/1.1\r\n\r\n")
        # A client that hangs up halfway through its body.
        port = int(store.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /appointments HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        get(store, "/customers?email=ada.lovelace%40example.com")
        get(store, "/orders/ORD-1002")
        get(store, "/healthz")  # the lines above are logged before this one is answered
    lines = [r.getMessage() for r in caplog.records if r.name == "demo_store"]
    # The service's own log: no query values, no ids.
    assert any(re.fullmatch(r"GET /customers -> 200 in [\d.]+ ms", line) for line in lines)
    assert any(re.fullmatch(r"GET /orders/:id -> 200 in [\d.]+ ms", line) for line in lines)
    assert "lovelace" not in caplog.text and "1002" not in caplog.text
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "demo_store")
    assert any(re.fullmatch(r"GET /healthz -> 200 in [\d.]+ ms", line) for line in lines)
    assert any(re.fullmatch(r"GET /nope -> 404 in [\d.]+ ms", line) for line in lines)
    assert any("BREW" in line for line in lines)
    assert any("POST /appointments -> no answer" in line for line in lines)
    assert capfd.readouterr().err == ""


def test_an_idle_keep_alive_connection_is_closed_quietly(monkeypatch, capfd, caplog):
    monkeypatch.setattr(store_server._Handler, "timeout", 0.3)
    with demo_store.start() as quick, caplog.at_level(logging.DEBUG, logger="demo_store"):
        port = int(quick.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            stream = sock.makefile("rb")
            assert read_response(stream)[0] == 200
            assert stream.read(1) == b""  # the server hung up once the connection idled
    assert any("timed out" in r.getMessage() for r in caplog.records if r.name == "demo_store")
    assert capfd.readouterr().err == ""


def reset(sock):
    """Close ``sock`` with RST instead of FIN (linger 0), as a crashed client would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def wait_for_log(caplog, text):
    deadline = time.monotonic() + TIMEOUT
    while not any(text in r.getMessage() for r in caplog.records if r.name == "demo_store"):
        assert time.monotonic() < deadline, f"never logged: {text}"
        time.sleep(0.02)


def test_clients_resetting_their_connections_are_logged_not_printed(fresh_store, capfd, caplog):
    port = int(fresh_store.url.rsplit(":", 1)[1])
    with caplog.at_level(logging.DEBUG, logger="demo_store"):
        # Reset halfway through a request body: no answer, and no 500.
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.sendall(b"POST /appointments HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.1)  # let the server start reading the body
        reset(sock)
        wait_for_log(caplog, "POST /appointments -> no answer")
        # Reset while the server waits for the next request on a kept-alive connection.
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock.makefile("rb"))[0] == 200
        reset(sock)
        wait_for_log(caplog, "ended with an error")
    assert not [r for r in caplog.records if r.levelno > logging.DEBUG]
    assert capfd.readouterr().err == ""
    assert answer(get(fresh_store, "/healthz"), 200)
