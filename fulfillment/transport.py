"""The transport adapter behind the backend client's ``requests.Session``.

requests' own adapter sends through urllib3, whose generality (retries, proxies, pool keys,
header dictionaries, cookie extraction) costs ~190 µs of CPU per call on top of
``http.client``: measured against a loopback backend, 260 µs per call through requests and
urllib3 against 72 µs through ``http.client`` alone. Our calls have one fixed shape (small
JSON, no cookies, no redirects, our own retries), and every microsecond of CPU is throughput
lost by a webhook that serves many turns per instance, so the session mounts this adapter:

    session = requests.Session()
    adapter = PooledAdapter(pool_maxsize=64)
    session.mount("http://", adapter)
    session.mount("https://", adapter)

It keeps ``http.client`` connections alive per origin (``scheme://host:port``), checks an
idle connection is still open, and holds no stray bytes, before reusing it (see
``_readable``), bounds every socket read by the call's deadline (see
``DeadlineResponse``) with as few GIL-releasing system calls as it can (see ``limit``),
bounds the name lookup of a new connection by its connect timeout (see ``Resolver``),
verifies TLS with the same CA bundle requests uses (certifi), and raises requests' own
exceptions, so callers cannot tell it from requests' adapter. Calls through a proxy
(``trust_env`` with proxy settings) go to requests' adapter. In tests,
``responses.RequestsMock(target="fulfillment.transport.PooledAdapter.send")`` mocks it.
"""

import contextvars
import email.parser
import http.client
import io
import math
import re
import select
import socket
import ssl
import struct
import threading
import time
import zlib
from urllib.parse import urlsplit

import urllib3.exceptions

from fulfillment._requests import requests
from fulfillment.client import HTTP_TOKEN

# Through fulfillment._requests, so requests is imported without its unused encoding detector.
HTTPAdapter = requests.adapters.HTTPAdapter
CaseInsensitiveDict = requests.structures.CaseInsensitiveDict
select_proxy = requests.utils.select_proxy

# A connection idle longer than this may have been closed by the server (nginx closes idle
# keep-alive connections after 75 s, many load balancers after 60 s): start a new one.
MAX_IDLE_S = 30.0


# The absolute monotonic time by which the call in progress must be over (set per call by the
# backend client). ``None`` outside a call: sockets then keep their plain timeouts.
io_deadline = contextvars.ContextVar("fulfillment_transport_io_deadline", default=None)


class ConnectFailed(requests.exceptions.ConnectionError):
    """The connection could not be opened: no byte of the request left this process."""


# --- The deadline on every socket read ---------------------------------------------------------
#
# A socket timeout bounds one recv(), not a call: a backend that sends one byte a second never
# trips a 3-second read timeout. So while a call is in flight, responses read through
# ``_DeadlineReader``, which re-arms the timeout to what is left before every recv() (unless
# it did so less than ``TIMEOUT_SLACK_S`` ago) and refuses to read once the time is up: the
# status line, the headers and the body alike.
#
# On plain HTTP the timeouts are the kernel's (SO_RCVTIMEO, SO_SNDTIMEO on a blocking
# socket), not Python's socket timeout. Under load every system call that gives up the GIL
# hands the interpreter to another of functions-framework's threads, and Python's timeout
# costs several: settimeout is an ioctl, and each wait is a recv that finds nothing, a poll,
# then the recv. A blocking recv with a kernel timeout is one call, and setsockopt keeps the
# GIL. Measured at 8 connections on a 0 ms backend: 7.2 ioctls and 3.1 polls per webhook call
# before, 5 (gunicorn's own) and none after; at 64 connections on a 50 ms backend, 0.39x ->
# 0.44-0.51x the throughput of bare functions-framework (several runs).
#
# TLS keeps Python's timeout: its read loops on a blocking socket until data comes, kernel
# timeout or not. There the timeout is set again only when the one set would miss the
# deadline by more than ``TIMEOUT_SLACK_S`` (each settimeout is a GIL-releasing ioctl).
TIMEOUT_SLACK_S = 0.01


def limit(sock, seconds, *, send=True, receive=True):
    """Bound every blocking send and/or recv on ``sock`` to ``seconds``: kernel timeouts on a
    plain socket (left in blocking mode by ``PooledAdapter``), Python's (both ways) on TLS."""
    if isinstance(sock, ssl.SSLSocket):
        armed = sock.gettimeout()
        if armed is None or not seconds - TIMEOUT_SLACK_S <= armed <= seconds + TIMEOUT_SLACK_S:
            sock.settimeout(seconds)
        return
    value = _timeval(seconds)
    if receive:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    if send:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def _timeval(seconds):
    # A zero timeval means "no timeout" to the kernel: never arm less than a microsecond.
    micros = max(int(seconds * 1_000_000), 1)
    return struct.pack("@ll", micros // 1_000_000, micros % 1_000_000)


# What a blocking socket raises when its kernel timeout expires (SocketIO.readinto answers None).
_KERNEL_TIMEOUTS = (BlockingIOError,)


class _DeadlineReader(io.RawIOBase):
    """A socket reader whose every recv() is bounded by what is left until ``at``."""

    def __init__(self, raw, sock, at):
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._at = at
        self._armed_at = -math.inf

    def readable(self):
        return True

    def readinto(self, buffer):
        now = time.monotonic()
        left = self._at - now
        if left <= 0:
            raise TimeoutError("backend call deadline passed")
        # Armed less than TIMEOUT_SLACK_S ago (the headers, then the body): close enough.
        if now - self._armed_at > TIMEOUT_SLACK_S:
            limit(self._sock, left, send=False)
            self._armed_at = now
        try:
            count = self._raw.readinto(buffer)
        except _KERNEL_TIMEOUTS:
            count = None
        if count is None:  # SocketIO's answer to EAGAIN: the kernel timeout expired
            raise TimeoutError("backend call deadline passed")
        return count

    def fileno(self):
        return self._raw.fileno()

    def close(self):
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """Stands in for the socket while ``http.client`` builds its response reader."""

    def __init__(self, sock, at):
        self._sock = sock
        self._at = at

    def makefile(self, mode="rb"):
        # buffering=0 gives the socket's raw reader (and takes the usual reference on the
        # socket, released when the reader is closed); the buffer goes on top of ours.
        return io.BufferedReader(
            _DeadlineReader(self._sock.makefile(mode, buffering=0), self._sock, self._at)
        )


class DeadlineResponse(http.client.HTTPResponse):
    """``http.client``'s response, every read of it bounded by the monotonic time ``at``, with
    a faster reading of the header block."""

    def __init__(self, sock, at, *args, **kwargs):
        super().__init__(_DeadlineSocket(sock, at), *args, **kwargs)

    def begin(self):
        # http.client.HTTPResponse.begin (CPython 3.11/3.12), except that the headers are
        # read by _parse_headers: http.client hands them to the email package's FeedParser,
        # which took 13% of all GIL time under load in a profile of lookup-order.
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if not 100 <= status < 200:
                break
            if status == http.client.SWITCHING_PROTOCOLS:
                # Never asked for: what follows on this connection is no longer HTTP/1.1.
                raise http.client.HTTPException("101 Switching Protocols, and no upgrade was asked")
            # An interim answer (100 Continue, 102 Processing, 103 Early Hints): the final one
            # follows on the same connection (RFC 9110 §15.2). Taken as final, that one would
            # stay unread and become the next caller's answer.
            _read_header_lines(self.fp)
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = _parse_headers(self.fp)
        transfer_encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(transfer_encoding) and transfer_encoding.lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if (
            status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED)
            or 100 <= status < 200
            or self._method == "HEAD"
        ):
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


# --- The request, written whole ------------------------------------------------------------------
#
# http.client's request() builds the head a header at a time (putrequest, putheader for each,
# endheaders), ~15 µs of CPU per call in all, measured; our calls are small and of one shape,
# so the head is built in one piece, with the same checks http.client makes on what goes in.

# A body up to this size goes out in the same write as the head.
_JOIN_BODY_BYTES = 64 * 1024
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_UNSAFE_IN_TARGET = re.compile(r"[\x00-\x20\x7f]")
_UNSAFE_IN_VALUE = re.compile(r"[\r\n\x00]")


def _request_head(method, target, host, headers, body):
    """The request line and headers of an HTTP/1.1 request, encoded, as http.client would send
    them: ``Host``, ``Accept-Encoding: identity`` and ``Content-Length`` added unless given.
    Raises ``ValueError`` (``http.client.InvalidURL`` for the target) for a method, target,
    name or value that could split the request, as http.client does."""
    if not HTTP_TOKEN.fullmatch(method):
        raise ValueError(f"method can't contain control characters: {method!r}")
    if _UNSAFE_IN_TARGET.search(target):
        raise http.client.InvalidURL(f"URL can't contain control characters: {target!r}")
    lines = [f"{method} {target} HTTP/1.1"]
    given = set()
    for name, value in headers.items():
        if value is None:  # requests' way of saying "leave this header out"
            continue
        value = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        if not HTTP_TOKEN.fullmatch(name):
            raise ValueError(f"Invalid header name {name!r}")
        if _UNSAFE_IN_VALUE.search(value):
            # Never the value: it may be a credential.
            raise ValueError(f"Invalid value for header {name!r}: a line break or NUL")
        given.add(name.lower())
        lines.append(f"{name}: {value}")
    if "host" not in given:
        lines.insert(1, f"Host: {host}")
    if "accept-encoding" not in given:
        lines.append("Accept-Encoding: identity")
    if "content-length" not in given and "transfer-encoding" not in given:
        if body:
            lines.append(f"Content-Length: {len(body)}")
        elif body is not None or method in _METHODS_WITH_BODY:
            lines.append("Content-Length: 0")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


# http.client's own limits on a header block.
_MAX_HEADER_LINE = 65536
_MAX_HEADERS = 100


def _read_header_lines(fp):
    lines = []
    while True:
        line = fp.readline(_MAX_HEADER_LINE + 1)
        if len(line) > _MAX_HEADER_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            return lines


class HeaderBlock:
    """A response's headers with the reading side of ``http.client.HTTPMessage`` (``get``,
    ``get_all``, ``items``, ``keys``, ``values``, ``[name]``, ``in``, iteration), which is all
    http.client and requests use. The email package's Message lower-cases every name on every
    lookup, and http.client looks up three per response: ~10 µs of CPU per backend call."""

    __slots__ = ("_fields", "_first")

    def __init__(self, fields):
        self._fields = fields  # [(name, value)], in the order received
        first = {}
        for name, value in fields:
            first.setdefault(name.lower(), value)
        self._first = first

    def get(self, name, failobj=None):
        return self._first.get(name.lower(), failobj)

    def get_all(self, name, failobj=None):
        key = name.lower()
        return [value for field, value in self._fields if field.lower() == key] or failobj

    def items(self):
        return list(self._fields)

    def keys(self):
        return [name for name, _ in self._fields]

    def values(self):
        return [value for _, value in self._fields]

    def __getitem__(self, name):
        return self.get(name)  # None when absent, as Message answers

    def __contains__(self, name):
        return name.lower() in self._first

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self._fields)


def _parse_headers(fp):
    """The header block as ``http.client.parse_headers`` reads it: the same names, values and
    order for well-formed ``Name: value`` lines, in a ``HeaderBlock``. Any other line (folded,
    nameless) goes to the email parser, exactly as http.client would."""
    lines = _read_header_lines(fp)
    fields = []
    for raw in lines[:-1]:
        line = raw.decode("iso-8859-1")
        name, colon, value = line.partition(":")
        if not colon or not HTTP_TOKEN.fullmatch(name):
            return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(
                b"".join(lines).decode("iso-8859-1")
            )
        fields.append((name, value.lstrip(" \t").rstrip("\r\n")))
    return HeaderBlock(fields)


# --- The adapter ---------------------------------------------------------------------------------


class PooledAdapter(HTTPAdapter):
    """A requests transport adapter over pooled ``http.client`` connections."""

    def __init__(self, pool_maxsize=64):
        # requests' adapter stays underneath for the rare proxied call.
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, pool_block=False, max_retries=0)
        self._maxsize = pool_maxsize
        self._idle = {}  # origin -> [(connection, idle since)], most recent last
        self._idle_lock = threading.Lock()
        self._contexts = {}

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        if proxies and select_proxy(request.url, proxies):
            return super().send(
                request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
            )
        parts = urlsplit(request.url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise requests.exceptions.InvalidURL(f"cannot send to {scheme or 'no'} scheme")
        port = parts.port or (443 if scheme == "https" else 80)
        origin = (scheme, parts.hostname, port, _tls_key(verify, cert) if scheme == "https" else None)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connect_timeout, read_timeout = _timeouts(timeout)

        connection = self._checkout(origin)
        # A kept-alive connection that fails as we reuse it was most likely closed by the
        # server just before (its idle timeout). Safe to send again on a new connection, once,
        # for a read, and for a write that carries an Idempotency-Key (the backend acts on it
        # once however often it arrives); any other write goes to the client's own rules.
        may_send_again = connection is not None and (
            request.method in ("GET", "HEAD") or "Idempotency-Key" in request.headers
        )
        if connection is None:
            connection = self._connect(origin, connect_timeout, verify, cert)
        while True:
            try:
                response = self._exchange(connection, request, target, read_timeout)
                break
            except (ConnectionError, http.client.RemoteDisconnected) as err:
                connection.close()
                if not may_send_again:
                    raise requests.exceptions.ConnectionError(err, request=request) from err
                may_send_again = False
                try:
                    connection = self._connect(origin, connect_timeout, verify, cert)
                except (
                    ConnectFailed,
                    requests.exceptions.ConnectTimeout,
                    requests.exceptions.SSLError,
                ) as failed:
                    if request.method in ("GET", "HEAD"):
                        raise
                    # The write went out once already and may have been acted on: not a
                    # connection that "never opened" or "timed out connecting" (either would
                    # make it look unsent, and the client would send it again).
                    raise requests.exceptions.ConnectionError(err, request=request) from failed
            except BaseException:
                connection.close()
                raise
        return self._build(request, response, connection, origin)

    # -- one exchange ------------------------------------------------------------------------

    def _exchange(self, connection, request, target, read_timeout):
        sock = connection.sock
        limit(sock, read_timeout, receive=False)  # each read arms its own (_DeadlineReader)
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        head = _request_head(request.method, target, connection.host_header, request.headers, body)
        # Outside a backend client's call (a bare session), the read timeout is the deadline.
        at = io_deadline.get()
        if at is None:
            at = time.monotonic() + read_timeout
        try:
            # One write for a small request, as http.client does: head and body together.
            if body and len(body) > _JOIN_BODY_BYTES:
                sock.sendall(head)
                sock.sendall(body)
            else:
                sock.sendall(head + body if body else head)
            response = DeadlineResponse(sock, at, method=request.method)
            try:
                response.begin()
            except BaseException:
                response.close()
                raise
            if response.will_close:
                connection.close()  # the response holds its own reference to the socket
            return response
        except (TimeoutError, *_KERNEL_TIMEOUTS) as err:
            raise requests.exceptions.ReadTimeout(err, request=request) from err
        except ssl.SSLError as err:
            raise requests.exceptions.SSLError(err, request=request) from err
        except ConnectionError:
            raise  # send() decides: sent again on a new connection, or a requests error
        except OSError as err:
            # Any other socket error on an open connection (EHOSTUNREACH from a router, ...):
            # still a requests error, which the backend client turns into words.
            raise requests.exceptions.ConnectionError(err, request=request) from err
        except http.client.HTTPException as err:
            if isinstance(err, http.client.RemoteDisconnected):
                raise
            raise requests.exceptions.ConnectionError(err, request=request) from err

    def _connect(self, origin, connect_timeout, verify, cert):
        scheme, host, port, _ = origin
        at = io_deadline.get()
        if at is not None:
            # Name lookup, TCP and TLS handshakes within what is left of the call, also when
            # a dropped connection is opened again late in it.
            left = at - time.monotonic()
            connect_timeout = left if connect_timeout is None else min(connect_timeout, left)
            if connect_timeout <= 0:
                raise requests.exceptions.ConnectTimeout("no time left to connect")
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._context(verify, cert)
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        connection._create_connection = open_socket  # http.client's hook: name lookup bounded too
        # What http.client would send as Host: the port only when it is not the default.
        name = f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")
        connection.host_header = name if port == (443 if scheme == "https" else 80) else f"{name}:{port}"
        try:
            connection.connect()
            if scheme == "http":
                connection.sock.settimeout(None)  # blocking, with kernel timeouts: see limit()
        except TimeoutError as err:
            connection.close()
            raise requests.exceptions.ConnectTimeout(err) from err
        except ssl.SSLError as err:
            connection.close()
            raise requests.exceptions.SSLError(err) from err
        except OSError as err:
            connection.close()
            raise ConnectFailed(err) from err
        return connection

    def _build(self, request, raw, connection, origin):
        response = requests.Response()
        response.status_code = raw.status
        headers = CaseInsensitiveDict()
        for name, value in raw.getheaders():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        response.headers = headers
        response.reason = raw.reason
        response.url = request.url
        response.request = request
        response.connection = self
        response.raw = _Body(raw, connection, self, origin, headers.get("Content-Encoding"))
        return response

    # -- the pool --------------------------------------------------------------------------------

    def _checkout(self, origin):
        now = time.monotonic()
        while True:
            with self._idle_lock:
                idle = self._idle.get(origin)
                if not idle:
                    return None
                connection, since = idle.pop()
            # Asked every time, outside the lock: anything readable on an idle connection is
            # the server closing it or bytes nobody asked for, and those must never be read
            # as the next caller's answer.
            if now - since < MAX_IDLE_S and not _dropped(connection):
                return connection
            connection.close()

    def checkin(self, origin, connection):
        """Give a connection whose response was read to the end back to the pool."""
        if connection.sock is None:  # the server asked to close (Connection: close)
            return
        with self._idle_lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self._maxsize:
                idle.append((connection, time.monotonic()))
                return
        connection.close()

    def close(self):
        with self._idle_lock:
            pools, self._idle = self._idle, {}
        for idle in pools.values():
            for connection, _ in idle:
                connection.close()
        super().close()

    def _context(self, verify, cert):
        key = _tls_key(verify, cert)
        context = self._contexts.get(key)
        if context is None:
            if verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif isinstance(verify, str):
                context = ssl.create_default_context(cafile=verify)
            else:
                from requests.certs import where

                context = ssl.create_default_context(cafile=where())
            if cert:
                context.load_cert_chain(*((cert,) if isinstance(cert, str) else cert))
            self._contexts[key] = context
        return context


class _Body:
    """The body of a response as urllib3's ``read(amt, decode_content=True)`` offers it,
    returning the connection to the pool once it has been read to the end."""

    def __init__(self, raw, connection, adapter, origin, encoding):
        self._raw = raw
        self._connection = connection
        self._adapter = adapter
        self._origin = origin
        self._tail = b""
        self._decoder = None
        encoding = (encoding or "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            self._decoder = False  # an encoding we cannot read
        self._done = False

    def read(self, amt=None, decode_content=True):
        if self._done:
            return b""
        if self._decoder is False and decode_content:
            raise urllib3.exceptions.DecodeError("unsupported content-encoding")
        try:
            while True:
                data = self._tail or self._raw.read(amt)
                self._tail = b""
                if not data:
                    if self._raw.length:
                        # The connection ended before the Content-Length it announced: a cut,
                        # which http.client's read(amt) reports as a plain end of body.
                        raise http.client.IncompleteRead(b"", self._raw.length)
                    self._finish()
                    return self._decoder.flush() if self._decoder and decode_content else b""
                if not (self._decoder and decode_content):
                    if self._raw.isclosed():
                        self._finish()
                    return data
                # At most ``amt`` decoded bytes per read: a small compressed body may inflate
                # to gigabytes, and the caller stops reading at its cap.
                out = self._decoder.decompress(data, amt or 0)
                self._tail = self._decoder.unconsumed_tail
                if out:
                    return out
        except TimeoutError as err:
            self.close()
            raise urllib3.exceptions.ReadTimeoutError(None, "", "read timed out") from err
        except zlib.error as err:
            self.close()
            raise urllib3.exceptions.DecodeError(f"cannot decode the body: {err}") from err
        except (http.client.HTTPException, OSError) as err:
            self.close()
            raise urllib3.exceptions.ProtocolError("connection broken", err) from err

    def _finish(self):
        if not self._done:
            self._done = True
            self._raw.close()
            self._adapter.checkin(self._origin, self._connection)

    def release_conn(self):
        """Called by ``requests.Response.close()``: an unread body means a spoilt connection."""
        if not self._done:
            self.close()

    def close(self):
        if not self._done:
            self._done = True
            self._raw.close()
            self._connection.close()


def _dropped(connection):
    """True if a kept-alive connection was closed by the server (or sent something unasked)."""
    sock = connection.sock
    if sock is None:
        return True
    if getattr(sock, "pending", None) and sock.pending():  # TLS: bytes already decrypted
        return True
    try:
        return _readable(sock.fileno())
    except (OSError, ValueError):
        return True


def _readable(fd):
    """Whether ``fd`` has anything to read (data, or the end of the stream), without waiting.

    Asked before every reuse of an idle connection. Python releases the GIL around every
    system call it makes, and under load that hands the interpreter to another thread for
    a whole switch interval: measured, a poll() per backend call cost 0.05 of the 0 ms
    backend ratio. A non-blocking recv(MSG_PEEK) through ctypes.PyDLL keeps the GIL (it
    cannot block), and costs ~2 µs.
    """
    global _peek
    if _peek is None:
        _peek = _make_peek()
    return _peek(fd)


_peek = None


def _make_peek():
    try:
        import ctypes
        import errno

        libc = ctypes.PyDLL(None, use_errno=True)  # PyDLL: the call keeps the GIL
        recv = libc.recv
        recv.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        recv.restype = ctypes.c_ssize_t
    except (ImportError, OSError, AttributeError):  # no ctypes, or no C library recv: ask poll()

        def peek(fd):
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            return bool(poller.poll(0))

        return peek
    buffer = ctypes.create_string_buffer(1)  # MSG_PEEK leaves the byte; it is never read
    flags = socket.MSG_PEEK | socket.MSG_DONTWAIT
    would_block = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)

    def peek(fd):
        if recv(fd, buffer, 1, flags) >= 0:  # a byte, or 0: the end of the stream
            return True
        return ctypes.get_errno() not in would_block  # an error also means: do not reuse

    return peek


# --- Opening a connection: the name lookup within the timeout too ---------------------------------


class _Lookup:
    __slots__ = ("addresses", "done", "error")

    def __init__(self):
        self.done = threading.Event()
        self.addresses = None
        self.error = None


class Resolver:
    """``getaddrinfo`` that gives up after a timeout, one lookup per name at a time.

    The C resolver has no timeout of its own (glibc waits 5 s per attempt and server by
    default), so a DNS server that does not answer would hold a webhook call past its
    deadline. Here a name is looked up on a helper thread and the caller waits at most its
    timeout; a lookup that outlives it finishes in the background, and callers who ask for
    the same name meanwhile wait on that one lookup instead of starting more: a hung DNS
    costs one thread per name, not one per webhook call. IP addresses are never looked up.

        >>> Resolver().resolve("127.0.0.1", 80, timeout=1.0)[0][4]
        ('127.0.0.1', 80)
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = {}  # (host, port) -> _Lookup under way

    def resolve(self, host, port, timeout):
        """``socket.getaddrinfo(host, port, 0, SOCK_STREAM)``, or ``TimeoutError``."""
        try:  # an address literal: answered at once, without the resolver
            return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
        except socket.gaierror:
            pass
        key = (host, port)
        with self._lock:
            lookup = self._pending.get(key)
            if lookup is None:
                lookup = self._pending[key] = _Lookup()
                threading.Thread(target=self._look_up, args=(key, lookup), name="dns", daemon=True).start()
        if not lookup.done.wait(timeout):
            raise TimeoutError(f"name lookup of {host!r} took longer than {timeout:.2f} s")
        if lookup.error is not None:
            # A copy: callers waiting on one lookup raise it on several threads at once.
            raise type(lookup.error)(*lookup.error.args)
        return lookup.addresses

    def _look_up(self, key, lookup):
        try:
            lookup.addresses = socket.getaddrinfo(*key, 0, socket.SOCK_STREAM)
        except OSError as err:
            lookup.error = err
        finally:
            with self._lock:
                del self._pending[key]
            lookup.done.set()


_RESOLVER = Resolver()


def open_socket(address, timeout=None, source_address=None):
    """``socket.create_connection``, with the name lookup inside ``timeout`` as well: lookup and
    connect together take at most ``timeout`` seconds (``TimeoutError`` otherwise)."""
    host, port = address
    end = None if timeout is None else time.monotonic() + timeout
    error = None
    for family, kind, proto, _, sockaddr in _RESOLVER.resolve(host, port, timeout):
        sock = socket.socket(family, kind, proto)
        try:
            _arm(sock, end)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            # What follows on this socket (the TLS handshake) gets what is left, not the whole
            # timeout again.
            _arm(sock, end)
            return sock
        except OSError as err:
            sock.close()
            error = err
            if isinstance(err, TimeoutError):
                break  # the time is spent: the next address cannot be tried
    raise error if error is not None else OSError(f"no address for {host!r}")


def _arm(sock, end):
    """Give ``sock`` the time left until ``end`` (monotonic; ``None``: no bound)."""
    if end is None:
        return
    left = end - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    sock.settimeout(left)


def _timeouts(timeout):
    if isinstance(timeout, tuple):
        return timeout
    return timeout, timeout


def _tls_key(verify, cert):
    return (
        verify if isinstance(verify, (bool, str)) else True,
        cert if isinstance(cert, (str, tuple)) else None,
    )


__all__ = ["ConnectFailed", "DeadlineResponse", "PooledAdapter", "Resolver", "io_deadline", "open_socket"]
