"""The HTTP face: answers handed to Flask, and JSON pages for the framework's own errors."""

import logging

import flask
from werkzeug.datastructures import Headers
from werkzeug.http import HTTP_STATUS_CODES

from fulfillment.response import encode

log = logging.getLogger("fulfillment")


class JSONAnswer(flask.Response):
    """An encoded JSON answer as Flask's response, built for what it is.

        @functions_framework.http
        def webhook(request):
            return JSONAnswer(*app.handle_http(request))   # (body, status, headers)

    Returned as a ``(body, status, headers)`` tuple, the same answer cost ~14 µs more CPU per
    call (``benchmarks/percall.py``): Flask builds a ``Headers`` object, parses the status and
    the content type, and werkzeug then copies and re-checks every header for cases a fixed
    JSON body never has (redirects, 304s, a length to compute). Here the status line and the
    header list are made once, directly, and handed to the server as they are.

    It is still a complete ``flask.Response``: the first time anything reads or replaces
    ``headers`` (an after-request hook, a test), they become werkzeug's ``Headers``, and from
    then on, or when close callbacks or another body were set, werkzeug answers the usual way.
    """

    def __init__(self, body: bytes, status: int = 200, headers=None):
        wsgi_headers = [("Content-Type", "application/json")]
        for name, value in (headers or {}).items():
            if name.lower() not in ("content-type", "content-length"):
                wsgi_headers.append((name, value))
        wsgi_headers.append(("Content-Length", str(len(body))))
        self._wsgi_headers = wsgi_headers
        self._headers = None
        self._status, self._status_code = _status_line(status), status
        self.direct_passthrough = False
        self._on_close = []
        self.response = self._body = [body]

    @property
    def headers(self):
        if self._headers is None:
            self._headers = Headers(self._wsgi_headers)
        return self._headers

    @headers.setter
    def headers(self, value):
        self._headers = value

    def __call__(self, environ, start_response):
        if self._headers is not None or self._on_close or self.response is not self._body:
            return super().__call__(environ, start_response)  # changed since: werkzeug's way
        start_response(self._status, self._wsgi_headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else self._body


_STATUS_LINES = {}


def _status_line(code):
    """``"200 OK"``, ``"400 BAD REQUEST"``: werkzeug's spelling, made once per code."""
    line = _STATUS_LINES.get(code)
    if line is None:
        line = _STATUS_LINES[code] = f"{code} {HTTP_STATUS_CODES.get(code, 'unknown').upper()}"
    return line


def json_errors(errorhandler):
    """Register JSON error pages with functions-framework's ``errorhandler`` decorator.

    Outside ``functions_framework.create_app`` the decorator is a no-op, so importing
    ``main`` from a test or a script is harmless.
    """
    from werkzeug.exceptions import HTTPException  # already loaded by functions-framework

    from fulfillment.app import CLOSE, leave_body

    def http_error(err):
        body = {"error": {"code": _error_code(err.name), "message": err.description or err.name}}
        # An unknown path needs no body: any it came with is left unread.
        headers = CLOSE if leave_body(flask.request.environ, 0) else None
        return JSONAnswer(encode(body), err.code or 500, headers)

    def crash(err):
        log.error("unhandled error outside the webhook function", exc_info=err)
        body = {"error": {"code": "internal", "message": "internal error"}}
        return JSONAnswer(encode(body), 500)

    errorhandler(HTTPException)(http_error)
    errorhandler(500)(crash)
    errorhandler(Exception)(crash)


def json_server_errors():
    """Make the answers gunicorn writes itself JSON errors too.

    A request gunicorn cannot parse (a Content-Length that is not a number, a broken request
    line, a header line too long) never reaches Flask: gunicorn answers it with an HTML page,
    through ``gunicorn.util.write_error``, the one place it writes those answers. That
    function is replaced here by one that writes the same status as our JSON error. Without
    gunicorn (functions-framework's ``--debug`` server, Windows), or with a gunicorn that no
    longer has it, nothing changes. (gunicorn is imported before serving anyway: importing
    it here moves ~2 ms of cold start earlier, it adds none.)
    """
    try:
        from gunicorn import util
    except ImportError:
        return False
    write_nonblock = getattr(util, "write_nonblock", None)
    if write_nonblock is None or not hasattr(util, "write_error"):
        return False

    def write_error(sock, status_int, reason, mesg):
        if reason == "Bad Request" and status_int >= 500:
            # gunicorn counts these as the client's errors (a Transfer-Encoding it does not
            # support, 501) yet sends a 5xx status with "Bad Request" as its reason: the
            # request is malformed, and malformed requests answer 400 here.
            status_int = 400
        body = encode({"error": {"code": _error_code(reason), "message": mesg or reason}})
        head = (
            f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        write_nonblock(sock, head.encode("latin-1") + body)

    util.write_error = write_error
    return True


def honour_connection_close():
    """Make gunicorn close the connection after an answer with a ``("Connection", "close")``
    header, spelled as this service writes it.

    An answer given with the request's body still unread (refused before reading it, cut
    at the size limit) leaves the connection unfit for another request: gunicorn skips
    at most 64 KiB of what is left, and otherwise closes it after answering. But a WSGI
    application's hop-by-hop headers are dropped (PEP 3333), so the answer said
    ``Connection: keep-alive`` and a client that reused the connection lost its next request
    ("Remote end closed connection without response"). With this, the answer tells the truth
    and gunicorn keeps to it. (werkzeug's own server closes after every answer already.) Returns
    False where there is no gunicorn, or one without ``Response.process_headers``.
    """
    try:
        from gunicorn.http.wsgi import Response
    except ImportError:
        return False
    process_headers = getattr(Response, "process_headers", None)
    if process_headers is None or getattr(process_headers, "honours_close", False):
        return False

    def process_headers_honouring_close(self, headers):
        process_headers(self, headers)
        if ("Connection", "close") in headers:
            self.force_close()

    process_headers_honouring_close.honours_close = True
    Response.process_headers = process_headers_honouring_close
    return True


def _error_code(name):
    """``"Request Entity Too Large"`` → ``"request-entity-too-large"``."""
    return (name or "error").lower().replace(" ", "-")
