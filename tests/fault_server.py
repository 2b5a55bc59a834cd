"""A real HTTP server on loopback whose answer per path is scripted, for fault injection.

Mocks of ``requests`` cannot show what a client does when the network misbehaves: a backend
that never answers, one that trickles a byte a second, one that resets the connection half
way through a body. This server does those things for real, on ``127.0.0.1`` and a free port.

    with FaultServer() as server:
        server.route("/orders/1", Reply(json={"id": "1"}))
        server.route("/slow", Reply(trickle_ms=200, body=b'{"a": 1}'))
        server.route("/flaky", Reply(status=503), Reply(json={"ok": True}))  # then repeats
        requests.get(server.url + "/orders/1").json()   # {'id': '1'}
        server.seen[-1].headers["User-Agent"]

A path given several replies answers them in order and then repeats the last one; an unknown
path answers 404. The server speaks HTTP/1.1 with keep-alive, so connection reuse is real and
countable (``server.connections``).
"""

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Fault options combine where that makes sense (delay + status)."""

    status: int = 200
    json: object = None  # serialised as the body when ``body`` is None
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering
    hang: bool = False  # never answer (released when the server stops)
    close_before_answer: bool = False  # read the request, then close without a byte
    reset_mid_body: bool = False  # promise the body, send part of it, then send a TCP RST
    trickle_ms: int = 0  # send the body one byte every ``trickle_ms``
    trickle_headers: bool = False  # with ``trickle_ms``: trickle the status line and headers too
    size: int = 0  # a body of ``size`` bytes of JSON-ish filler instead of ``body``
    endless: bool = False  # stream filler until the client goes away (no Content-Length)
    send_length: bool = True  # False: no Content-Length, the body ends when the connection does

    def payload(self):
        if self.json is not None:
            return json.dumps(self.json).encode()
        return self.body


@dataclass
class Seen:
    """A request as the server received it."""

    method: str
    path: str
    query: str
    headers: dict
    body: bytes


class FaultServer:
    """The server; start it with ``with`` (or ``start()``/``stop()``)."""

    def __init__(self):
        self._routes = {}
        self._lock = threading.Lock()
        self._release = threading.Event()  # set at stop: hung handlers return
        self.seen = []
        self.connections = 0
        self.body_bytes_sent = {}  # path -> bytes of body written by the last reply there
        self._httpd = None
        self._thread = None

    # --- scripting ---------------------------------------------------------------------------

    def route(self, path, *replies):
        """Script ``path``: answer ``replies`` in order, then keep answering the last one."""
        if not replies:
            raise ValueError("route() needs at least one Reply")
        with self._lock:
            self._routes[path] = list(replies)

    def _next_reply(self, path):
        with self._lock:
            script = self._routes.get(path)
            if not script:
                return Reply(status=404, json={"code": "no-such-route"})
            return script.pop(0) if len(script) > 1 else script[0]

    def hits(self, path):
        """How many requests reached ``path`` (query string ignored)."""
        return sum(1 for seen in self.seen if seen.path == path)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self):
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        server = self

        class Handler(_Handler):
            fault_server = server

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False
            # Allow the 32-thread tests their burst of connects without SYN drops.
            request_queue_size = 128

            def process_request(self, request, client_address):
                with server._lock:
                    server.connections += 1
                super().process_request(request, client_address)

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="fault-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def closed_port_url():
    """A loopback URL on which nothing listens: connecting there is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so pooling is observable
    fault_server = None  # set by FaultServer.start on a per-server subclass

    def log_message(self, format, *args):
        pass  # quiet tests

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # trickles go out at once

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def do_PUT(self):
        self._serve()

    def do_DELETE(self):
        self._serve()

    def _serve(self):
        server = self.fault_server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        with server._lock:
            server.seen.append(Seen(self.command, parts.path, parts.query, dict(self.headers), body))
        reply = server._next_reply(parts.path)

        if reply.hang:
            server._release.wait()
            self.close_connection = True
            return
        if reply.delay_s and server._release.wait(reply.delay_s):
            self.close_connection = True  # the server is stopping
            return
        if reply.close_before_answer:
            self.close_connection = True
            return

        try:
            self._answer(reply, parts.path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up: exactly what some tests want

    def _answer(self, reply, path):
        server = self.fault_server
        payload = reply.payload()
        head = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
        if reply.content_type:
            head.append(f"Content-Type: {reply.content_type}")
        if reply.send_length and not reply.endless:
            head.append(f"Content-Length: {reply.size or len(payload)}")
        else:
            head.append("Connection: close")  # the end of the body is the end of the connection
            self.close_connection = True
        head.extend(f"{name}: {value}" for name, value in reply.headers.items())
        head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        server.body_bytes_sent[path] = 0

        if reply.trickle_ms:
            if reply.trickle_headers:
                self._trickle(head_bytes, reply.trickle_ms)
            else:
                self.wfile.write(head_bytes)
            self._trickle(payload, reply.trickle_ms)
            server.body_bytes_sent[path] = len(payload)
        elif reply.reset_mid_body:
            self.wfile.write(head_bytes + payload[: max(1, len(payload) // 4)])
            time.sleep(0.05)  # let the client start reading the body before the RST arrives
            # SO_LINGER with a zero timeout turns close() into a TCP RST.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif reply.size or reply.endless:
            self.wfile.write(head_bytes)
            filler = b" " * _CHUNK
            sent = 0
            while reply.endless or sent < reply.size:
                piece = filler if reply.endless else filler[: reply.size - sent]
                self.wfile.write(piece)
                sent += len(piece)
                server.body_bytes_sent[path] = sent
        else:
            # Head and body in one write: two small writes would meet Nagle and the client's
            # delayed ACK, and every keep-alive request would take 40 ms.
            self.wfile.write(head_bytes + payload)
            server.body_bytes_sent[path] = len(payload)

    def _trickle(self, data, every_ms):
        for index in range(len(data)):
            if self.fault_server._release.wait(every_ms / 1000):
                raise BrokenPipeError("server stopping")
            self.wfile.write(data[index : index + 1])
            self.wfile.flush()
