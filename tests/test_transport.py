"""The transport adapter's own parts: header reading equal to http.client's, connection reuse,
socket timeouts."""

import http.client
import io
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfillment.transport import _parse_headers

NAMES = st.sampled_from(["Content-Type", "content-length", "Set-Cookie", "X-A", "Bad Name", "", "X_B"])
VALUES = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=20)
LINE = st.one_of(
    st.builds(
        lambda n, s, v, e: f"{n}:{s}{v}{e}",
        NAMES,
        st.sampled_from(["", " ", "\t", "  "]),
        VALUES,
        st.sampled_from(["\r\n", "\n"]),
    ),
    st.builds(lambda v: f" {v}\r\n", VALUES),  # a folded continuation line
    st.builds(lambda v: f"{v}\r\n", VALUES),  # no colon at all
)


@settings(max_examples=400)
@given(st.lists(LINE, max_size=8), st.sampled_from(["\r\n", "\n", ""]))
def test_headers_read_as_http_client_reads_them(lines, end):
    block = ("".join(lines) + end).encode("iso-8859-1")
    ours = _parse_headers(io.BytesIO(block))
    theirs = http.client.parse_headers(io.BytesIO(block))
    assert ours.items() == theirs.items()
    for name in ("content-length", "transfer-encoding", "connection", "content-type"):
        assert ours.get(name) == theirs.get(name)
        assert ours.get_all(name) == theirs.get_all(name)


# --- Reuse of kept-alive connections, and socket timeouts ----------------------------------------


class _ClosingServer:
    """Answers one request per connection with a keep-alive response, then closes the
    connection without saying so (no ``Connection: close``), as a server with a very short
    idle timeout does. Counts the connections it accepted."""

    def __init__(self):
        import socket
        import threading

        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head = data.split(b"\r\n\r\n", 1)[0].lower()
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                )

    def close(self):
        self._listener.close()


@pytest.fixture
def closing_server():
    server = _ClosingServer()
    yield server
    server.close()


@pytest.fixture
def session():
    import requests

    from fulfillment.transport import PooledAdapter

    with requests.Session() as s:
        adapter = PooledAdapter()
        s.mount("http://", adapter)
        yield s


def _read_twice(session, method, url):
    first = session.request(method, url, timeout=2)
    assert first.json() == {}  # read to the end: the connection goes back to the pool
    time.sleep(0.05)  # the server has closed it by now
    return session.request(method, url, timeout=2)


def test_a_read_on_a_connection_closed_under_it_is_sent_again(closing_server, session, monkeypatch):
    # Used moments ago, so reused without a poll: the GET finds it closed and goes again.
    import fulfillment.transport

    monkeypatch.setattr(fulfillment.transport, "_dropped", lambda c: pytest.fail("polled a fresh connection"))
    assert _read_twice(session, "GET", closing_server.url + "/a").json() == {}
    assert closing_server.accepted == 2


def test_an_older_idle_connection_is_checked_before_reuse(closing_server, session, monkeypatch):
    import fulfillment.transport

    monkeypatch.setattr(fulfillment.transport, "FRESH_S", 0.0)
    polls = []
    real = fulfillment.transport._dropped
    monkeypatch.setattr(fulfillment.transport, "_dropped", lambda c: polls.append(1) or real(c))
    assert _read_twice(session, "GET", closing_server.url + "/a").json() == {}
    assert polls == [1] and closing_server.accepted == 2


def test_a_write_always_checks_the_connection_first(closing_server, session):
    """A POST is never sent on a connection the server closed: it could not be sent again."""
    assert _read_twice(session, "POST", closing_server.url + "/a").json() == {}
    assert closing_server.accepted == 2


class _Socket:
    def __init__(self, timeout):
        self.timeout = timeout
        self.set = []

    def gettimeout(self):
        return self.timeout

    def settimeout(self, value):
        self.set.append(value)
        self.timeout = value


@pytest.mark.parametrize(
    ("armed", "left", "rearmed"),
    [
        (None, 2.0, True),  # blocking: must be bounded
        (3.0, 2.0, True),  # would overshoot the deadline
        (2.005, 2.0, False),  # within the slack: no system call
        (1.995, 2.0, False),
        (1.0, 2.0, True),  # would give up a second early
    ],
)
def test_a_socket_timeout_is_set_only_when_it_matters(armed, left, rearmed):
    from fulfillment.transport import _bound_timeout

    sock = _Socket(armed)
    _bound_timeout(sock, left)
    assert sock.set == ([left] if rearmed else [])
