"""The demo store as a real HTTP/1.1 server on a background thread.

    >>> import json, urllib.request
    >>> with start() as store:
    ...     with urllib.request.urlopen(store.url + "/healthz") as reply:
    ...         json.load(reply)
    {'status': 'ok'}

It speaks HTTP/1.1 with keep-alive, so a pooled client reuses its connections as it would
with a production backend: every answer carries a Content-Length, every request body is
read to its end (Content-Length or chunked) before answering, and when a body cannot be
read the answer says ``Connection: close``. Every answer is JSON, including the ones
``http.server`` would otherwise send as HTML (malformed request line, unknown method).
"""

import contextlib
import http.server
import json
import logging
import secrets
import socket
import socketserver
import threading
import time
from datetime import UTC, datetime

from demo_store.api import ApiError, Call, StoreApi
from demo_store.db import Database
from demo_store.sample_data import seed
from fulfillment import clock as agent_clock
from fulfillment.logs import redact_path

logger = logging.getLogger("demo_store")

MAX_BODY_BYTES = 64 * 1024
MAX_CHUNK_LINE = 1024
# An idle keep-alive connection is closed after this long, so forgotten client pools do not
# pin a thread each forever. Clients (urllib3) notice the close and reconnect.
IDLE_TIMEOUT_S = 60
_HEX = frozenset(b"0123456789abcdefABCDEF")


class _ConnectionLost(Exception):
    """The client went away in the middle of sending its request."""


def utc_now():
    return datetime.now(UTC)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "demo_store/1"
    timeout = IDLE_TIMEOUT_S
    # Headers and body go out in two writes; without TCP_NODELAY the second can wait for a
    # delayed ACK (~40 ms) on every keep-alive request.
    disable_nagle_algorithm = True

    def do_GET(self):
        started = time.perf_counter()
        status = None
        try:
            status = self._serve()
        finally:
            # The service's log: ids and query values (emails, cities) never in clear.
            logger.debug(
                "%s %s -> %s in %.1f ms",
                self.command,
                redact_path(self.path),
                status if status is not None else "no answer",
                (time.perf_counter() - started) * 1000,
            )

    # One entry point for every method: routing decides between an answer, 404 and 405.
    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _serve(self):
        try:
            try:
                body = self._read_body()
            except OSError as error:  # reset, or stalled past the timeout: the client is gone
                raise _ConnectionLost from error
            status, payload, headers = self.server.api.handle(
                Call(self.command, self.path, self.headers, body)
            )
            close = False
        except _ConnectionLost:
            self.close_connection = True
            return None
        except ApiError as error:
            status, payload, headers, close = (
                error.status,
                error.body(),
                error.headers,
                error.close_connection,
            )
        except Exception:
            logger.exception("demo_store failed on %s %s", self.command, self.path)
            status, payload, headers, close = 500, {"error": "internal error"}, (), False
        self._send_json(status, payload, headers, close=close)
        return status

    # --- request body ---------------------------------------------------------------------------

    def _read_body(self):
        transfer_encoding = self.headers.get("Transfer-Encoding")
        if transfer_encoding is not None:
            if transfer_encoding.strip().lower() != "chunked":
                raise ApiError(400, "only chunked Transfer-Encoding is supported", close_connection=True)
            return self._read_chunked()
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        if len(set(lengths)) > 1 or not (lengths[0].isascii() and lengths[0].strip().isdigit()):
            raise ApiError(400, "invalid Content-Length", close_connection=True)
        length = int(lengths[0])
        if length > MAX_BODY_BYTES:
            raise ApiError(413, f"request body over {MAX_BODY_BYTES} bytes", close_connection=True)
        return self._read_exactly(length)

    def _read_exactly(self, length):
        data = self.rfile.read(length)
        if len(data) < length:
            raise _ConnectionLost
        return data

    def _read_line(self):
        line = self.rfile.readline(MAX_CHUNK_LINE + 1)
        if not line:
            raise _ConnectionLost
        if not line.endswith(b"\n"):
            raise ApiError(400, "malformed chunked body", close_connection=True)
        return line.rstrip(b"\r\n")

    def _read_chunked(self):
        chunks, total = [], 0
        while True:
            size_field = self._read_line().split(b";", 1)[0].strip()
            # int(x, 16) alone would also accept "0x1f" and "1_f".
            if not size_field or len(size_field) > 8 or not set(size_field) <= _HEX:
                raise ApiError(400, "malformed chunked body", close_connection=True)
            size = int(size_field, 16)
            if size == 0:
                break
            total += size
            if total > MAX_BODY_BYTES:
                raise ApiError(413, f"request body over {MAX_BODY_BYTES} bytes", close_connection=True)
            chunks.append(self._read_exactly(size))
            if self._read_line():
                raise ApiError(400, "malformed chunked body", close_connection=True)
        while self._read_line():  # trailer fields, up to the blank line that ends the message
            pass
        return b"".join(chunks)

    # --- answers --------------------------------------------------------------------------------

    def _send_json(self, status, payload, headers=(), *, close=False):
        data = self.server.encode(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")  # also sets self.close_connection
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code, message=None, explain=None):
        # http.server calls this for requests it could not parse (bad request line, header too
        # long, unknown method). The rest of such a request was not read, hence the close.
        text = message or self.responses.get(code, ("error",))[0]
        if self.request_version == "HTTP/0.9":
            # http.server's default until a version is parsed, and an HTTP/0.9 answer has no
            # status line. Nobody speaks 0.9 any more: garbage comes from confused 1.x clients.
            self.request_version = self.protocol_version
        logger.debug("rejected %r: %d %s", getattr(self, "requestline", ""), code, text)
        self._send_json(code, {"error": text}, close=True)

    def version_string(self):
        # Without the Python version http.server appends by default.
        return self.server_version

    def log_request(self, code="-", size="-"):
        # do_GET logs each request once, with its latency.
        pass

    def log_message(self, format, *args):
        # Instead of http.server's access log on stderr.
        logger.debug("%s %s", self.address_string(), format % args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    # How long handle_request() waits for a connection before checking for stop. Only a
    # fallback: stop_serving() wakes it at once (see there).
    timeout = 1.0

    def __init__(self, address, api):
        self.api = api
        self._stopping = threading.Event()
        self.connections_accepted = 0
        self._open_connections = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind resolves the host's FQDN, a reverse DNS lookup that can take
        # seconds on a cold Cloud Functions instance; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @staticmethod
    def encode(payload):
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    def serve_until_stopped(self):
        # Instead of serve_forever(), whose shutdown() waits out a polling interval: a store
        # per test would spend most of its life stopping.
        while not self._stopping.is_set():
            self.handle_request()

    def stop_serving(self):
        self._stopping.set()
        # Shutting the listening socket down makes the select() in handle_request() return
        # now (on Linux; elsewhere the loop notices within ``timeout``).
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self.connections_accepted += 1
            self._open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._open_connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # Clients resetting or dropping connections is routine; socketserver would print a
        # traceback to stderr for it.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_open_connections(self):
        """Hang up on every client still connected, waking their handler threads."""
        with self._connections_lock:
            open_connections = list(self._open_connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)


class _Server6(_Server):
    address_family = socket.AF_INET6


class DemoStore:
    """A running demo store. ``stop()`` (or leaving a ``with`` block) shuts it down.

    >>> with start() as store:
    ...     store.url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(self, server, thread, database, api, url):
        self._server = server
        self._thread = thread
        self._api = api
        self._stop_lock = threading.Lock()
        self._stopped = False
        self.database = database
        self.url = url

    @property
    def booking_token(self):
        return self._api.booking_token

    @property
    def weather_key(self):
        return self._api.weather_key

    def credentials(self, backend_name):
        """``(auth mode, key)`` that the webhook's backend ``backend_name`` must send here, as
        ``BACKEND_<NAME>_AUTH`` and ``_KEY`` would say for a real one: the booking API wants
        a Bearer token, the weather API an API key, every other API nothing.

        >>> with start() as store:
        ...     store.credentials("orders")
        ('none', '')
        """
        if backend_name == "booking":
            return "bearer", self.booking_token
        if backend_name == "weather":
            return "api-key", self.weather_key
        return "none", ""

    @property
    def connections_accepted(self):
        """TCP connections accepted so far: a keep-alive client adds one, not one per request."""
        return self._server.connections_accepted

    @property
    def running(self):
        return not self._stopped

    def stop(self):
        """Stop serving, hang up on connected clients and drop the database. Safe to repeat."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            self._server.stop_serving()
            self._thread.join()
            self._server.server_close()
            # Otherwise a pooled keep-alive connection would go on being answered after stop().
            self._server.close_open_connections()
            self.database.close()
        logger.debug("demo store at %s stopped", self.url)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def __repr__(self):
        return f"<DemoStore {self.url} {'running' if self.running else 'stopped'}>"


def start(host="127.0.0.1", port=0, *, booking_token=None, weather_key=None, clock=utc_now):
    """Create, seed and serve a new demo store; returns once it accepts connections.

    ``port=0`` picks a free port (see ``store.url``). Tokens are random unless given (the
    command line accepts fixed ones so a separately started webhook can be configured).
    ``clock`` returns the current time as an aware datetime; sample dates count from it.

        >>> store = start()
        >>> store.url.startswith("http://127.0.0.1:"), len(store.booking_token) > 20
        (True, True)
        >>> store.stop()
    """
    database = Database()
    try:
        with database.transaction() as conn:
            seed(conn, clock().date())
        api = StoreApi(
            database,
            clock=clock,
            booking_token=booking_token or secrets.token_urlsafe(24),
            weather_key=weather_key or secrets.token_urlsafe(24),
        )
        server = (_Server6 if ":" in host else _Server)((host, port), api)
    except BaseException:
        database.close()
        raise
    bound_port = server.server_address[1]
    url = f"http://[{host}]:{bound_port}" if ":" in host else f"http://{host}:{bound_port}"
    # The socket is already listening, so requests made right after start() queue up and are
    # answered as soon as the loop runs.
    thread = threading.Thread(target=server.serve_until_stopped, name=f"demo_store:{bound_port}", daemon=True)
    thread.start()
    logger.debug("demo store serving at %s", url)
    return DemoStore(server, thread, database, api, url)


_shared = None
_shared_lock = threading.Lock()


def shared():
    """The process-wide demo store: started by the first caller (once, even under threads).

    >>> shared() is shared()
    True
    """
    global _shared
    store = _shared
    if store is None or not store.running:
        with _shared_lock:
            if _shared is None or not _shared.running:
                # The service's own calendar (AGENT_TIME_ZONE): "today" and "already past"
                # must mean the same to the store as to the handlers that word its answers.
                _shared = start(clock=agent_clock.now)
            store = _shared
    return store
