"""The tag router, and the one error policy every webhook call follows.

    from fulfillment.app import WebhookApp
    from fulfillment import Response

    app = WebhookApp()

    @app.tag("lookup-order")
    def lookup_order(request):
        return Response(f"Looking up {request.param('order_id')}.")

    app.resolve({"fulfillmentInfo": {"tag": "lookup-order"}})      # dict in, dict out
    app.handle_http(flask_request)                                 # the functions-framework face

Error policy (from the CX error-event semantics, docs/CONTRACT.md §5.5). A non-2xx answer makes
Dialogflow raise a ``webhook.error.*`` event, and *silently drops the turn's webhook answer*
when the route has a transition target. So everything that is part of a conversation answers
200 with words for the caller and ``webhook_outcome`` for the flow; only requests that are not
a conversation at all are refused:

=================================================  ======  ==============================
what happened                                      status  ``webhook_outcome`` / event
=================================================  ======  ==============================
handler answered                                   200     ``ok`` or the handler's own
backend not found / rejected / down / slow / bad   200     ``not-found``, ``rejected``,
                                                           ``unavailable``, ``timeout``,
                                                           ``bad-backend-data``
tag no handler serves                              200     ``unknown-tag`` (logged ERROR)
handler raised an unexpected exception             200     ``error`` (logged with traceback)
body not JSON / not an object / wrong field types  400     ``webhook.error.bad-request``
missing or invalid credentials                     401     ``webhook.error.rejected``
valid identity, not allowed                        403     ``webhook.error.rejected``
method other than POST (GET/HEAD: status)          405     —
body over ``MAX_REQUEST_BYTES``                    413     ``webhook.error``
content type other than application/json           415     ``webhook.error``
Google's signing keys unreachable                  503     ``webhook.error.unavailable``
=================================================  ======  ==============================

Every error body is JSON: ``{"error": {"code": "...", "message": "..."}}``.
"""

import contextvars
import hashlib
import io
import json
import logging
import os
import re
import threading
import time

from fulfillment import clock, deadline, logs
from fulfillment._validate import SchemaViolation, parse_body
from fulfillment.backend import (
    backend_calls,
    check_backends,
    forget_cached_answers,
    start_backend_calls,
    wrote_this_call,
)
from fulfillment.config import ConfigurationError, Settings, csv
from fulfillment.deadline import Deadline
from fulfillment.errors import (
    UNCONFIRMED,
    BackendError,
    BadRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RequestError,
    UnsupportedMediaType,
)
from fulfillment.request import WebhookRequest, _split_session
from fulfillment.response import Response, encode, fit
from fulfillment.values import is_whole_number

__version__ = "1.0.0"

log = logging.getLogger("fulfillment")
summary_log = logging.getLogger("fulfillment.call")

# Promises nothing the webhook does not do: the flow decides what follows (webhook_outcome).
UNKNOWN_TAG_TEXT = "I'm sorry, I can't help with that here yet."
HANDLER_ERROR_TEXT = "I'm sorry, something went wrong on my side. Please try again in a moment."
TOO_LARGE_TEXT = "I'm sorry, I found more than I can say at once. Could you narrow it down?"


_JSON = {"Content-Type": "application/json"}
# For an answer given with the body, or some of it, still unread (refused before reading it,
# cut at the size limit, broken framing): the connection cannot carry another request, as
# the server skips only a little of what is left (gunicorn: 64 KiB) and otherwise hangs up.
# Saying so in the answer keeps the client from sending its next request on it, to be lost.
CLOSE = {"Connection": "close"}

# Outcomes after which the backend answers of the call are not to be trusted again: a cached
# answer that failed the handler's checks (or crashed it) is dropped, not served for its TTL.
_UNTRUSTED_ANSWERS = frozenset({"bad-backend-data", "error"})


class Handler:
    __slots__ = ("answers", "func", "side_effects", "tag")

    def __init__(self, tag, func, side_effects, answers=()):
        self.tag = tag
        self.func = func
        self.side_effects = side_effects
        self.answers = answers


class WebhookApp:
    """A registry of tag handlers, and the code that serves one webhook call."""

    def __init__(self, *, settings=None, authenticator=None, version=__version__):
        if settings is None:
            try:
                settings = Settings.from_env()
            except ConfigurationError as err:
                # The service will not start: name the wrong LOG_* and AUTH_* settings in
                # the same breath, not one deploy attempt later.
                problems = _log_and_auth_problems(os.environ, lambda: _authenticator_from(os.environ))
                raise ConfigurationError(err.problems + problems) from None
        self.settings = settings
        self.version = version
        self._handlers = {}
        self._authenticator = authenticator
        self._replay = None
        self._replay_lock = threading.Lock()
        self._budget_s = self.settings.budget_s  # a property: computed once, not on every call
        self._allowed_log_params = frozenset(
            name.lower() for name in csv(self.settings.env.get("LOG_ALLOW_PARAMS"))
        )
        self._project = logs.project_id(self.settings.env)
        self._execution_ids = logs.execution_ids_on(self.settings.env)

    # -- registry ----------------------------------------------------------------------------

    def tag(self, name, *, side_effects=False, answers=()):
        """Register a handler for ``fulfillmentInfo.tag == name``.

        ``side_effects=True`` marks a tag that changes something in a backend (a return, a
        booking): repeated calls for the same turn are answered from memory, not re-run.
        ``answers`` names the session parameters the tag answers with; every answer removes
        those it does not set itself, so an earlier answer (the last caller's account, an old
        order's status, a match count from an ambiguous lookup) never outlives a failed or
        a different lookup and reaches the next page or a human agent.
        A tag registered twice is an error at import time, not a surprise in production.
        """
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ValueError(f"a tag must be a non-empty string without outer spaces, got {name!r}")
        if isinstance(answers, str):  # answers=("points") is the string "points", not a tuple
            raise TypeError(
                f"answers must be a tuple of parameter names, got {answers!r}; write ({answers!r},)"
            )

        def register(func):
            existing = self._handlers.get(name)
            if existing is not None:
                raise ValueError(
                    f"tag {name!r} is already served by {existing.func.__module__}.{existing.func.__qualname__}"
                )
            self._handlers[name] = Handler(name, func, side_effects, tuple(answers))
            return func

        return register

    @property
    def tags(self):
        """The tags this app serves, sorted."""
        return tuple(sorted(self._handlers))

    def _replay_cache(self):
        # Built on the first side-effecting call (cachetools stays off the cold start), under
        # a lock: concurrent first calls must share one cache, or each would act.
        if self._replay is None:
            with self._replay_lock:
                if self._replay is None:
                    from fulfillment.replay import ReplayCache

                    self._replay = ReplayCache(self.settings.replay_ttl_s)
        return self._replay

    @property
    def authenticator(self):
        if self._authenticator is None:
            self._authenticator = _authenticator_from(self.settings.env)
        return self._authenticator

    def start(self):
        """Check the configuration and say how the service runs. Call once at start-up."""
        try:
            logs.configure(self.settings.env)
        except ValueError:
            logs.configure({})  # the defaults, while check_configuration names what is wrong
        self.check_configuration()
        log.info(
            "%s %s serving %d tags; %s; webhook budget %.2f s; dates in %s",
            self.settings.service,
            self.version,
            len(self._handlers),
            self.authenticator.describe(),
            self.settings.budget_s,
            clock.zone(),
        )
        return self

    def check_configuration(self):
        """Read now every setting a call will need, so that no caller is the first to find a
        mistake. Settings that would break every call raise ``ConfigurationError``, naming
        each (the service does not start); a backend that cannot be called or an unusable time
        zone is logged as an ERROR, a backend left without a URL as a WARNING.
        ``tools.preflight`` runs this before a deploy; ``start`` runs it at every start.
        """
        # The authenticator is built now: a wrong AUTH_* setting stops the start.
        problems = _log_and_auth_problems(self.settings.env, lambda: self.authenticator)
        check_backends()
        clock.zone()  # a zone that cannot be loaded is logged, and dates stay UTC
        if problems:
            raise ConfigurationError(problems)

    # -- one call, as a pure function --------------------------------------------------------

    def resolve(self, body):
        """Serve one WebhookRequest given as a dict; returns the WebhookResponse dict.

        Raises ``BadRequest`` when ``body`` is not a valid WebhookRequest. No HTTP, no auth and
        no summary log line (an unknown tag is silent here: read ``webhook_outcome``). The rest
        is as over HTTP: backends are called, caches filled, and a side-effecting tag answers
        a repeated turn from memory, so give each test turn its own ``detectIntentResponseId``.
        """
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        # As over HTTP: one budget for the call; what went wrong in it may be forgotten.
        with Deadline(self.settings.budget_s), backend_calls():
            answer, _ = self._serve(encode(body), {})
        return _decode(answer)

    def _serve(self, data, summary):
        """Parse, dispatch and encode one call. Returns ``(bytes, request)``."""
        try:
            body = parse_body(data)
        except SchemaViolation as err:
            _identify_refused(data, summary, err.decoded)
            # The caller may read its own values back; the log keeps none of them.
            raise BadRequest(
                f"not a WebhookRequest: {err}", logged=f"not a WebhookRequest: {_unquoted(err.logged)}"
            ) from None
        request = WebhookRequest(body)
        tag = summary["tag"] = request.tag
        handler = self._handlers.get(tag)
        _label_call(tag, request.session_id)
        if handler is not None and handler.side_effects and request.detect_intent_response_id:
            from fulfillment.replay import StillRunning

            # The digest stands for the turn id too: an id is not kept as sent (a body may
            # hold one of ~1 MiB, and the cache keeps 4096 turns).
            key = (request.tag, _digest(body, data))
            try:
                (answer, outcome), replayed = self._replay_cache().run(
                    key, lambda: self._answer(request, handler)
                )
            except StillRunning:
                # Acting beside the first call could act twice: act not, and say that
                # what the first call does is not known yet (never "try again").
                reply = Response(UNCONFIRMED.format(system="our system")).with_outcome("timeout")
                answer, outcome = self._render(request, handler, reply)
                replayed = False
            summary["replayed"] = replayed
        else:
            answer, outcome = self._answer(request, handler)
        summary["outcome"] = outcome
        return answer, request

    def _answer(self, request, handler):
        """Run the handler under the error policy; returns ``(encoded answer, outcome)``."""
        if handler is None:
            # Logged once, by the call's summary line (severity ERROR, outcome unknown-tag,
            # with the served tags): a misrouted agent sends many, each worth one line.
            reply = Response(UNKNOWN_TAG_TEXT).with_outcome("unknown-tag")
        else:
            try:
                reply = handler.func(request)
                if reply is None:
                    reply = Response()
                elif not isinstance(reply, Response):
                    raise TypeError(
                        f"handler for {request.tag!r} returned {type(reply).__name__}, not Response"
                    )
            except BackendError as err:
                if handler.side_effects and not err.may_have_acted and wrote_this_call():
                    # The write went through; what failed is reading its confirmation. The
                    # caller must not hear "try again": that would be a second booking.
                    err.may_have_acted = True
                log.warning(
                    "backend error in %r: %s (%s)",
                    request.tag,
                    type(err).__name__,
                    err.detail or "no detail",
                )
                reply = Response(err.sentence()).with_outcome(err.outcome)
            except Exception:
                log.exception("handler for %r failed", request.tag)
                reply = Response(HANDLER_ERROR_TEXT).with_outcome("error")
        return self._render(request, handler, reply)

    def _render(self, request, handler, reply):
        """``reply`` as the encoded answer, under the same rules whatever produced it."""
        try:
            return self._encode(request, handler, reply)
        except Exception:  # a value that is not JSON (a date in .set()), a name that is no str
            log.exception("response of %r could not be rendered", request.tag)
            return self._encode(request, handler, Response(HANDLER_ERROR_TEXT).with_outcome("error"))

    def _encode(self, request, handler, reply):
        if reply.outcome in _UNTRUSTED_ANSWERS:
            forget_cached_answers()
        body = reply.to_dict(request)
        if handler is not None:
            # No earlier answer outlives this one. Into the rendered dict, not the Response:
            # a handler may return one Response object it keeps (and other tags return too).
            params = body["sessionInfo"]["parameters"]
            for name in handler.answers:
                params.setdefault(name, None)
        answer, _cuts = fit(body, self.settings.max_response_bytes, TOO_LARGE_TEXT)
        return answer, reply.outcome

    # -- one call, over HTTP -------------------------------------------------------------------

    def handle_http(self, request):
        """The functions-framework face: a Flask request in, ``(body, status, headers)`` out."""
        # Each call runs in a copy of the context: its deadline, log context and backend
        # records are set in it (deadline.start, ...) and go with it when the call returns.
        # Three `with` blocks entered and left on every call cost ~1 µs more (percall.py).
        return contextvars.copy_context().run(self._handle_http, request)

    def _handle_http(self, request):
        started = time.perf_counter()
        environ = request.environ
        summary = {}
        labels = None
        if self._execution_ids:
            # functions-framework's middleware puts the platform's id (or one it made up) here.
            execution_id = environ.get("HTTP_FUNCTION_EXECUTION_ID")
            if execution_id:
                labels = {logs.EXECUTION_ID_LABEL: execution_id[:64]}
        trace = logs.trace_headers(environ)
        # The budget starts before the auth check: fetching Google's keys spends it too.
        deadline.start(self._budget_s)
        logs.start_call(trace, project=self._project, labels=labels)
        calls = start_backend_calls()
        status = 200
        out_headers = _JSON
        try:
            authenticator = self.authenticator
            summary["identity"] = "none" if authenticator.open else authenticator.check(request.headers)
            method = environ.get("REQUEST_METHOD", "GET")
            if method == "POST":
                data = self._read_body(environ)
                # What request.get_data() answers from now on, for functions-framework
                # (which reads the body before every answer) and for any hook of a fork:
                # the body itself, not the drained input. Without it, werkzeug wraps that
                # input in a stream on every call to read nothing: ~6 µs (percall.py).
                # werkzeug's own cache attribute; tests/test_http.py checks that it holds.
                request._cached_data = data
                answer, parsed = self._serve(data, summary)
                _describe(parsed, summary, self._allowed_log_params)
            elif method in ("GET", "HEAD"):
                answer = encode(self.status())
            else:
                raise MethodNotAllowed(
                    f"{method} is not served: POST a WebhookRequest", headers={"Allow": "GET, HEAD, POST"}
                )
        except RequestError as err:
            status = err.status
            summary["outcome"] = err.code
            summary["error"] = err.logged
            if err.reason:
                summary["reason"] = err.reason
            answer = encode(err.body())
            out_headers = {**_JSON, **err.headers}
        except Exception:
            # Our own bug: still JSON, never a traceback or an HTML page.
            log.exception("unexpected error serving a webhook call")
            status = 500
            summary["outcome"] = "internal-error"
            answer = encode({"error": {"code": "internal", "message": "internal error"}})
        if leave_body(environ, self.settings.max_request_bytes):
            # Answered unread: a refusal (401, 405, 413, 415), a GET's status, our own 500.
            out_headers = {**out_headers, **CLOSE}
        summary["status"] = status
        summary["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        if calls:
            summary["backend_calls"] = [_call_for_log(call) for call in calls]
        severity = logging.INFO if status < 400 else logging.WARNING
        outcome = summary.get("outcome")
        if outcome in ("error", "unknown-tag", "internal-error"):
            severity = logging.ERROR
            if outcome == "unknown-tag":
                summary["served_tags"] = self.tags
        what = summary.get("tag") or environ.get("REQUEST_METHOD", "")
        message = f"{what} {status} {summary.get('outcome', '')}".rstrip()  # GET has no outcome
        logs.log_fields(summary_log, severity, message, {"call": summary})  # if the level is on
        return answer, status, out_headers

    def _read_body(self, environ):
        # Headers straight from the WSGI environ: werkzeug's parsed accessors (mimetype,
        # content_length) cost several µs a call, measured, for answers we can read directly.
        content_type = environ.get("CONTENT_TYPE", "")
        if content_type != "application/json":  # as Dialogflow sends it: nothing to normalize
            mimetype = content_type.partition(";")[0].strip().lower()
            if mimetype != "application/json":
                raise UnsupportedMediaType(
                    f"Content-Type must be application/json, got {mimetype or 'none'!r}"
                )
        limit = self.settings.max_request_bytes
        declared = environ.get("CONTENT_LENGTH", "").strip()
        if not declared:
            return _read_unframed_body(environ, limit)
        if not is_whole_number(declared):
            raise BadRequest(f"Content-Length must be a whole number, got {declared[:20]!r}")
        length = int(declared)
        if length > limit:  # handle_http then forgets the body, as for any early refusal
            raise PayloadTooLarge(f"the body is {length} bytes; the limit is {limit}")
        # Exactly the declared length, straight from the server's input (werkzeug's stream
        # wrapper costs several µs to build).
        data = _take_body(environ, environ["wsgi.input"], length, "the body could not be read")
        if len(data) != length:
            raise BadRequest(f"the body ended after {len(data)} of {length} bytes", headers=CLOSE)
        return data

    def status(self):
        """The small JSON status answered to GET."""
        return {
            "service": self.settings.service,
            "version": self.version,
            "status": "ok",
            "tags": list(self.tags),
        }


def _authenticator_from(env):
    # Imported here: the auth module stays off the cold start until a call is checked.
    from fulfillment.auth import Authenticator

    return Authenticator.from_env(env)


def _log_and_auth_problems(env, build_authenticator):
    """One sentence for each wrong ``LOG_*`` setting in ``env`` and each ``AUTH_*`` one
    ``build_authenticator()`` raises for."""
    problems = []
    for check in (lambda: logs.read_settings(env), build_authenticator):
        try:
            check()
        except ValueError as err:
            problems.append(str(err))
    return problems


def _read_unframed_body(environ, limit):
    """A body sent without Content-Length (chunked), read as the server frames it."""
    # Only a server that ends the input itself (gunicorn, werkzeug's: ``wsgi.input_terminated``)
    # can be read without a length; from any other, a read could wait for bytes that never
    # come, so the body counts as empty, as werkzeug counts it.
    stream = environ["wsgi.input"] if environ.get("wsgi.input_terminated") else io.BytesIO()
    data = _take_body(environ, stream, limit + 1, "the chunked body is malformed")
    if len(data) > limit:
        raise PayloadTooLarge(f"the body is over the limit of {limit} bytes", headers=CLOSE)
    return data


def _take_body(environ, stream, size, broken):
    """Up to ``size`` bytes of the body from ``stream``; then the environ says none is left."""
    try:
        return stream.read(size)
    except Exception as err:
        # The server's own framing errors (gunicorn: InvalidChunkSize, NoMoreData, ...) and a
        # client gone mid-body (a reset): a broken request, not a broken service.
        raise BadRequest(f"{broken} ({type(err).__name__})", headers=CLOSE) from None
    finally:
        _forget_body(environ)


def leave_body(environ, limit):
    """Whether to answer without the body this request still has: declared longer than
    ``limit`` bytes (or in a length that is no number), or chunked, of unknown length. Then
    the environ says none is left, and the answer must close its connection (``CLOSE``).

    Otherwise functions-framework reads whatever body is left before it answers (so that
    closing the connection cannot reset it): all of an oversized or endless upload that
    nothing needs, with no limit, and a broken chunked body would fail there as a 500. A
    body that was read has a ``CONTENT_LENGTH`` of ``"0"`` by now. The webhook's refusals
    and ``GET`` leave a body over ``MAX_REQUEST_BYTES``; functions-framework's own error
    pages (``fulfillment.http``), any body.
    """
    declared = environ.get("CONTENT_LENGTH", "")
    if declared:
        leave = not is_whole_number(declared) or int(declared) > limit
    else:
        leave = "HTTP_TRANSFER_ENCODING" in environ
    if leave:
        _forget_body(environ)
    return leave


def _forget_body(environ):
    """Leave the environ saying what is true once we are done with the body: nothing remains.

    functions-framework reads whatever body is left before it answers (see ``leave_body``).
    After a read, that would be nothing; after a broken chunked body, the same framing error
    again, as a 500. The server itself still skips a little of what is left (gunicorn: 64 KiB)
    before it reads the connection's next request, and otherwise closes the connection.
    """
    environ["wsgi.input"] = io.BytesIO()
    environ["CONTENT_LENGTH"] = "0"


def _describe(request, summary, allowed):
    """The parts of a call worth logging, with parameter values redacted."""
    summary["session_id"] = request.session_id
    summary["detect_intent_response_id"] = request.detect_intent_response_id
    summary["query_kind"] = request.query_kind
    summary["language"] = request.language_code
    params = request.session_params
    if params:
        summary["session_params"] = logs.redact_params(params, allowed)


def _label_call(tag, session_id):
    """Put the call's tag and session id on every line logged during it."""
    context = logs.current()
    if context is not None:
        context.labels["tag"] = tag
        if session_id:
            context.labels["session_id"] = session_id


# A refused body's identifiers are logged clipped: they were not checked, and one line
# must not grow with whatever the body held.
_REFUSED_ID_CHARS = 100


def _identify_refused(data, summary, body=None):
    """The tag, session id and turn a refused body names, in ``summary`` and the call's
    labels: when the agent sends something we refuse, the team still finds the call by its
    session. Identifiers only, read where they are strings; never a parameter or free text.
    ``body`` is the body as the validator decoded it, if it was JSON: decoding it again cost
    up to ~0.3 s of CPU for 1 MiB of small containers."""
    if body is None:
        try:
            body = json.loads(data)
        except Exception:  # not JSON at all (or nested too deeply): it names nothing
            return
    if body.__class__ is not dict:
        return
    info, session = body.get("fulfillmentInfo"), body.get("sessionInfo")
    tag = _clipped(info.get("tag") if info.__class__ is dict else None)
    name = session.get("session") if session.__class__ is dict else None
    session_id = _clipped(_split_session(name)[2]) if name.__class__ is str else ""
    turn = _clipped(body.get("detectIntentResponseId"))
    if tag:
        summary["tag"] = tag
    if session_id:
        summary["session_id"] = session_id
    if turn:
        summary["detect_intent_response_id"] = turn
    if tag or session_id:
        _label_call(tag, session_id)


def _clipped(value):
    return value[:_REFUSED_ID_CHARS] if value.__class__ is str else ""


def _unquoted(message):
    """``message`` with each value it quotes replaced by ``…``: a JSON string, and the
    number of an out-of-range float or enum (a card number fits in either field)."""
    return _OUT_OF_RANGE_NUMBER.sub("…", _QUOTED_STRING.sub('"…"', message))


_QUOTED_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
# Anchored at the start of a run (the lookbehind): tried at every position inside a long run,
# the search would be quadratic in its length.
_OUT_OF_RANGE_NUMBER = re.compile(r"(?<![-+.\w…])[-+.\w…]+(?= is out of range)")


def _digest(body, data):
    """The same request, however it was spelled: key order and spacing do not count."""
    try:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        # An unknown field nested nearly as deep as decoding allows (and the contract allows
        # any unknown field): encoding it again, a few frames deeper, fails. The bytes as
        # sent still tell one request from another.
        return hashlib.sha256(b"as sent:" + data).digest()
    return hashlib.sha256(canonical.encode("utf-8")).digest()


def _call_for_log(call):
    entry = dict(call)
    if "path" in entry:
        entry["path"] = logs.redact_path(entry["path"])
    return entry


def _decode(data):
    return json.loads(data)
