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
    assert list(ours.keys()) == theirs.keys() and list(ours.values()) == theirs.values()
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    for name in ("content-length", "Transfer-Encoding", "connection", "content-type", "X-A", "set-cookie"):
        assert ours.get(name) == theirs.get(name)
        assert ours.get(name, "absent") == theirs.get(name, "absent")
        assert ours.get_all(name) == theirs.get_all(name)
        assert ours[name] == theirs[name]
        assert (name in ours) == (name in theirs)


# --- Reuse of kept-alive connections, and socket timeouts ----------------------------------------


class _LoopbackServer:
    """A listener on 127.0.0.1; each accepted connection goes to ``answer(conn)`` on a thread of
    its own. Counts the connections it accepted."""

    scheme = "http"

    def __init__(self):
        import socket
        import threading

        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"{self.scheme}://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading

        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._answer_quietly, args=(conn,), daemon=True).start()

    def _answer_quietly(self, conn):
        try:
            self.answer(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self._listener.close()


def _read_request(conn):
    """One request, head and body (by Content-Length), from ``conn``; None if it closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.lower().split(b"\r\n")
    length = next((int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)
    return head, body


def _json_answer(body):
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class _ClosingServer(_LoopbackServer):
    """Answers one request per connection with a keep-alive response, then closes the
    connection without saying so (no ``Connection: close``), as a server with a very short
    idle timeout does."""

    def answer(self, conn):
        if _read_request(conn) is not None:
            conn.sendall(_json_answer(b"{}"))


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
        s.mount("https://", adapter)
        yield s


def _read_twice(session, method, url):
    first = session.request(method, url, timeout=2)
    assert first.json() == {}  # read to the end: the connection goes back to the pool
    time.sleep(0.05)  # the server has closed it by now
    return session.request(method, url, timeout=2)


def test_a_connection_the_server_closed_is_not_reused(closing_server, session):
    assert _read_twice(session, "GET", closing_server.url + "/a").json() == {}
    assert closing_server.accepted == 2


def test_a_read_on_a_connection_closed_under_it_is_sent_again(closing_server, session, monkeypatch):
    # The race the check before reuse cannot see: the server closes just after it. The GET
    # finds the connection closed and goes again on a new one.
    import fulfillment.transport

    monkeypatch.setattr(fulfillment.transport, "_dropped", lambda connection: False)
    assert _read_twice(session, "GET", closing_server.url + "/a").json() == {}
    assert closing_server.accepted == 2


@pytest.mark.parametrize(("headers", "sent_again"), [({"Idempotency-Key": "k-1"}, True), ({}, False)])
def test_a_write_closed_under_it_is_sent_again_only_with_an_idempotency_key(
    closing_server, session, monkeypatch, headers, sent_again
):
    import requests

    import fulfillment.transport

    monkeypatch.setattr(fulfillment.transport, "_dropped", lambda connection: False)  # the race
    assert session.post(closing_server.url + "/a", json={}, headers=headers, timeout=2).json() == {}
    time.sleep(0.05)  # the server has closed the kept-alive connection by now
    if sent_again:
        assert session.post(closing_server.url + "/a", json={}, headers=headers, timeout=2).json() == {}
    else:
        with pytest.raises(requests.exceptions.ConnectionError):
            session.post(closing_server.url + "/a", json={}, timeout=2)
    assert closing_server.accepted == (2 if sent_again else 1)


@pytest.mark.parametrize("failure", ["refused", "connect-timeout", "tls"])
def test_a_write_sent_again_on_a_connection_that_will_not_open_is_not_called_unsent(
    closing_server, session, monkeypatch, failure
):
    import requests

    import fulfillment.transport
    from fulfillment.transport import ConnectFailed

    error = {
        "refused": ConnectFailed("connection refused"),
        "connect-timeout": requests.exceptions.ConnectTimeout("timed out"),
        "tls": requests.exceptions.SSLError("handshake failed"),
    }[failure]

    monkeypatch.setattr(fulfillment.transport, "_dropped", lambda connection: False)  # the race
    headers = {"Idempotency-Key": "k-2"}
    assert session.post(closing_server.url + "/a", json={}, headers=headers, timeout=2).json() == {}
    time.sleep(0.05)  # the first connection is gone; and now no new one will open:

    def will_not_open(self, *args):
        raise error

    monkeypatch.setattr(fulfillment.transport.PooledAdapter, "_connect", will_not_open)
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        session.post(closing_server.url + "/a", json={}, headers=headers, timeout=2)
    # It went out once on the old connection: "never connected" or "timed out connecting"
    # would make it look unsent, and the backend client would send it again.
    assert type(caught.value) is requests.exceptions.ConnectionError


class _ChattyServer(_LoopbackServer):
    """Answers each request with its own number, then, on the first connection, writes a
    whole second answer nobody asked for: a backend or proxy gone out of step."""

    def __init__(self):
        self.answered = 0
        super().__init__()

    def answer(self, conn):
        first_connection = self.accepted == 1
        while _read_request(conn) is not None:
            self.answered += 1
            conn.sendall(_json_answer(b'{"n": %d}' % self.answered))
            if first_connection:
                time.sleep(0.05)
                conn.sendall(_json_answer(b'{"n": 999}'))


def test_an_answer_nobody_asked_for_never_becomes_the_next_callers(session):
    server = _ChattyServer()
    try:
        assert session.get(server.url + "/balance", timeout=2).json() == {"n": 1}
        time.sleep(0.2)  # the stray answer has arrived on the idle connection
        assert session.get(server.url + "/balance", timeout=2).json() == {"n": 2}
        assert server.accepted == 2
    finally:
        server.close()


class _InterimServer(_LoopbackServer):
    """Answers each request with an interim 1xx at once and its final answer, naming the
    path it answers, a little later: a backend sending 103 Early Hints or 102 Processing."""

    def __init__(self, interim):
        self.interim = interim
        super().__init__()

    def answer(self, conn):
        while (request := _read_request(conn)) is not None:
            path = request[0].split(b" ")[1]
            conn.sendall(self.interim)
            time.sleep(0.1)
            conn.sendall(_json_answer(b'{"path": "%s"}' % path))


@pytest.mark.parametrize(
    "interim",
    [
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
        b"HTTP/1.1 102 Processing\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n",
    ],
)
def test_an_interim_answer_is_skipped_never_taken_for_the_final_one(session, interim):
    # Taken as final, the 1xx left the real answer unread on a pooled connection, and the
    # next caller read it as theirs: one caller's order in another's answer.
    server = _InterimServer(interim)
    try:
        first = session.get(server.url + "/orders/ORD-1", timeout=2)
        assert (first.status_code, first.json()) == (200, {"path": "/orders/ORD-1"})
        second = session.get(server.url + "/orders/ORD-2", timeout=2)
        assert (second.status_code, second.json()) == (200, {"path": "/orders/ORD-2"})
    finally:
        server.close()


def test_an_unasked_switch_of_protocols_is_a_connection_error(session):
    import requests

    server = _InterimServer(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")
    try:
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(server.url + "/a", timeout=2)
    finally:
        server.close()


class _DroppingServer(_LoopbackServer):
    """Answers the first request, then closes every connection without answering: a server
    that is dropping requests, so the read sent again after a stale connection fails too."""

    def answer(self, conn):
        if _read_request(conn) is not None and self.accepted == 1:
            conn.sendall(_json_answer(b"{}"))


def test_a_read_sent_again_that_fails_again_is_a_requests_connection_error(session):
    """Found by the --long fault mix: the second failure escaped as http.client's own
    RemoteDisconnected, which the backend client does not know, so the handler failed."""
    import requests

    server = _DroppingServer()
    try:
        assert session.get(server.url + "/a", timeout=2).json() == {}
        time.sleep(0.05)  # the server has closed the kept-alive connection by now
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(server.url + "/a", timeout=2)
        assert server.accepted == 2  # the first connection, then one replacement: no third try
    finally:
        server.close()


def test_any_other_socket_error_is_a_requests_connection_error(closing_server, session, monkeypatch):
    import errno

    import requests

    import fulfillment.transport

    def unreachable(self):
        raise OSError(errno.EHOSTUNREACH, "No route to host")

    monkeypatch.setattr(fulfillment.transport.DeadlineResponse, "begin", unreachable)
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(closing_server.url + "/a", timeout=2)


def test_an_idle_connection_is_checked_before_reuse(closing_server, session, monkeypatch):
    import fulfillment.transport

    polls = []
    real = fulfillment.transport._dropped
    monkeypatch.setattr(fulfillment.transport, "_dropped", lambda c: polls.append(1) or real(c))
    assert _read_twice(session, "GET", closing_server.url + "/a").json() == {}
    assert polls == [1] and closing_server.accepted == 2


def test_a_write_always_checks_the_connection_first(closing_server, session):
    """A POST is never sent on a connection the server closed: it could not be sent again."""
    assert _read_twice(session, "POST", closing_server.url + "/a").json() == {}
    assert closing_server.accepted == 2


# --- Name lookup: inside the connect timeout ------------------------------------------------------


@pytest.fixture
def slow_dns(monkeypatch):
    """``slow.test`` resolves to 127.0.0.1 after ``slow_dns.delay_s``; lookups are counted."""
    import socket
    import threading

    real = socket.getaddrinfo

    class SlowDns:
        delay_s = 0.0
        lookups = 0
        released = threading.Event()

        @staticmethod
        def getaddrinfo(host, port, family=0, kind=0, proto=0, flags=0):
            if host != "slow.test" or flags & socket.AI_NUMERICHOST:
                return real(host, port, family, kind, proto, flags)
            SlowDns.lookups += 1
            SlowDns.released.wait(SlowDns.delay_s)
            return real("127.0.0.1", port, family, kind, proto)

    monkeypatch.setattr(socket, "getaddrinfo", SlowDns.getaddrinfo)
    yield SlowDns
    SlowDns.released.set()  # lookups still waiting in the background end now


def test_a_hung_name_lookup_ends_within_the_connect_timeout(closing_server, session, slow_dns):
    import requests

    slow_dns.delay_s = 30.0
    port = closing_server.url.rsplit(":", 1)[1]
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectTimeout):
        session.get(f"http://slow.test:{port}/a", timeout=0.2)
    assert time.monotonic() - started < 0.5
    assert closing_server.accepted == 0


def test_callers_waiting_on_one_name_share_one_lookup(slow_dns):
    """A hung DNS costs one thread per name, however many webhook calls wait on it."""
    import threading

    from fulfillment.transport import Resolver

    slow_dns.delay_s = 30.0
    resolver = Resolver()
    failures = []

    def resolve():
        try:
            resolver.resolve("slow.test", 80, timeout=0.2)
        except TimeoutError:
            failures.append(1)

    callers = [threading.Thread(target=resolve) for _ in range(8)]
    [t.start() for t in callers]
    [t.join() for t in callers]
    assert failures == [1] * 8
    assert slow_dns.lookups == 1


def test_a_name_that_resolves_in_time_is_connected_to(closing_server, session, slow_dns):
    slow_dns.delay_s = 0.05
    port = closing_server.url.rsplit(":", 1)[1]
    assert session.get(f"http://slow.test:{port}/a", timeout=2).json() == {}
    assert slow_dns.lookups == 1


def test_an_address_is_never_looked_up(closing_server, session, monkeypatch):
    from fulfillment.transport import Resolver

    monkeypatch.setattr(Resolver, "_look_up", lambda *a: pytest.fail("looked up an address"))
    assert session.get(closing_server.url + "/a", timeout=2).json() == {}


def test_a_name_that_does_not_exist_fails_to_connect(session, monkeypatch):
    import socket

    import requests

    from fulfillment.transport import ConnectFailed

    real = socket.getaddrinfo

    def no_such_name(host, *args):
        if host == "no-such-host.invalid":  # answered here: the tests ask no real DNS server
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args)

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        session.get("http://no-such-host.invalid/a", timeout=2)
    assert isinstance(caught.value, ConnectFailed)  # nothing was sent: a POST may be retried


# --- TLS: the kernel timeouts hold on an encrypted connection too ---------------------------------


class _TLSServer(_LoopbackServer):
    """A loopback HTTPS server with a self-made certificate for 127.0.0.1. ``hang=True``: read
    the request and never answer."""

    scheme = "https"

    def __init__(self, tmp_path, hang=False):
        import ssl
        import threading

        from tests.auth_keys import loopback_tls_files

        self.ca, key_file = loopback_tls_files(tmp_path)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(self.ca, key_file)
        self._hang = hang
        self._release = threading.Event()
        super().__init__()

    def answer(self, conn):
        with self._context.wrap_socket(conn, server_side=True) as tls:
            while _read_request(tls) is not None:
                if self._hang:
                    self._release.wait(10)
                    return
                tls.sendall(_json_answer(b'{"tls":true}'))

    def close(self):
        self._release.set()
        super().close()


def test_https_answers_and_keeps_the_connection(tmp_path, session):
    server = _TLSServer(tmp_path)
    try:
        for _ in range(3):
            assert session.get(server.url + "/x", timeout=2, verify=str(server.ca)).json() == {"tls": True}
    finally:
        server.close()


def test_https_read_is_bounded_by_the_deadline(tmp_path, session):
    import requests

    from fulfillment.transport import io_deadline

    server = _TLSServer(tmp_path, hang=True)
    token = io_deadline.set(time.monotonic() + 0.3)
    started = time.monotonic()
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get(server.url + "/x", timeout=5, verify=str(server.ca))
        assert time.monotonic() - started < 1.0  # the 0.3 s deadline, not the 5 s timeout
    finally:
        io_deadline.reset(token)
        server.close()


@pytest.fixture
def silent_tls_peer():
    """Takes TCP connections (the kernel's backlog does) and never answers a TLS hello."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_a_tls_handshake_is_bounded_by_the_deadline(silent_tls_peer, session):
    import requests

    from fulfillment.transport import io_deadline

    token = io_deadline.set(time.monotonic() + 0.3)
    started = time.monotonic()
    try:
        with pytest.raises(requests.exceptions.ConnectTimeout):
            session.get(silent_tls_peer + "/x", timeout=5)
        assert time.monotonic() - started < 1.0  # the 0.3 s deadline, not the 5 s timeout
    finally:
        io_deadline.reset(token)


def test_a_slow_connect_leaves_the_tls_handshake_only_what_is_left(silent_tls_peer, session, monkeypatch):
    # SYN retransmits can make a TCP connect take seconds; the handshake after it must not get
    # the whole connect timeout again.
    import socket

    import requests

    class SlowConnect(socket.socket):
        def connect(self, address):
            time.sleep(0.4)
            return super().connect(address)

    monkeypatch.setattr(socket, "socket", SlowConnect)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectTimeout):
        session.get(silent_tls_peer + "/x", timeout=0.6)
    assert time.monotonic() - started < 0.9  # 0.6 s in all, not 0.4 s + 0.6 s


def test_plain_read_is_bounded_by_the_timeout_outside_a_call(closing_server, session):
    """No backend call in progress: the read timeout alone bounds the wait."""
    import socket

    import requests

    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog) but never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    started = time.monotonic()
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get(url, timeout=0.3)
        assert time.monotonic() - started < 1.0
    finally:
        listener.close()


# --- The request head: what http.client would send --------------------------------------------


class _Recorder:
    def __init__(self):
        self.sent = b""

    def sendall(self, data):
        self.sent += bytes(data)


def _http_client_sends(method, target, headers, body):
    connection = http.client.HTTPConnection("backend.example", 8080)
    connection.sock = _Recorder()
    connection.request(method, target, body, headers)
    return connection.sock.sent


def _parsed(head):
    line, *fields = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    return line, sorted(fields)


HEADER_NAMES = st.sampled_from(
    ["Accept", "X-Api-Key", "Idempotency-Key", "Content-Type", "Host", "content-length"]
)
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


@settings(max_examples=300)
@given(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
    st.from_regex(r"/[a-zA-Z0-9/%?=&._~-]{0,20}", fullmatch=True),
    st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4),
    st.one_of(st.none(), st.binary(max_size=20)),
)
def test_request_head_says_what_http_client_says(method, target, headers, body):
    from fulfillment.transport import _request_head

    if "content-length" in headers and body is not None:
        headers["content-length"] = str(len(body))  # a lie about the length is the caller's
    expected = _http_client_sends(method, target, headers, body)
    ours = _request_head(method, target, "backend.example:8080", headers, body) + (body or b"")
    assert _parsed(ours) == _parsed(expected)
    assert ours.endswith(body or b"\r\n\r\n")


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/orders/1 HTTP/1.1\r\nX-Injected: 1", {}),
        ("/orders/1", {"X-Api-Key": "k\r\nX-Injected: 1"}),
        ("/orders/1", {"X-Api-Key": "k\nX-Injected: 1"}),
        ("/orders/1", {"Bad Name": "v"}),
        ("/orders/1", {"X-A\r\nX-Injected": "v"}),
    ],
)
def test_nothing_can_split_the_request(target, headers):
    from fulfillment.transport import _request_head

    with pytest.raises((ValueError, http.client.InvalidURL)):
        _request_head("GET", target, "backend.example", headers, None)
