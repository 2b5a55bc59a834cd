"""The client every handler uses to call a backend: one line per call, every failure typed.

    from fulfillment.backend import backend, field, turn_key

    store = backend("store", spoken_name="our order system")   # cheap: nothing is read yet
    order = store.get_json(f"/orders/{order_id}", expect=dict)  # or raises a BackendError
    status = field(order, "status", str)                        # or raises BadBackendData
    store.post_json(f"/orders/{order_id}/returns", {"item_id": item},
                    idempotency_key=turn_key(request, order_id, item))
    backend("weather", spoken_name="the weather service").get_json(
        "/weather/current", params={"city": city}, cache_ttl=600)

What the one line does for the handler:

* **Configuration** comes from the environment on first use (``BACKEND_<NAME>_URL``,
  ``_AUTH``, ``_KEY``, ``_KEY_HEADER``, ``_AUDIENCE``, ``_TIMEOUT_S``, ``_RETRIES``; see
  ``BackendConfig``). Without a URL the backend is the embedded demo store, unless
  ``DEMO_STORE=off``, in which case every call raises ``Unavailable``.
* **One pooled ``requests.Session``** per process serves every backend and thread. It is built
  on the first call, so importing this module does not import ``requests`` (cold starts).
* **The deadline** of the webhook call (``fulfillment.deadline.remaining()``) bounds the
  *total* time of each call, including a backend that trickles its answer a byte at a time.
* **Retries** with backoff and jitter for reads only, and only while the deadline allows.
* **Every failure is exactly one ``BackendError``** (``NotFound``, ``Rejected``,
  ``Unavailable``, ``Timeout``, ``BadBackendData``) carrying the spoken ``system`` name and
  the HTTP ``status``, so an uncaught one still becomes a true sentence.
* **A record of each call** for the router's log line (``backend_calls()``), without query
  values or bodies.

``Client`` (``fulfillment.client``) owns the pooled session, the configuration, the answer
cache and the ID tokens; ``backend()`` uses the process-wide one, which tests replace with
``reset()``.
"""

import contextvars
import copy
import json
import logging
import math
import re
import time
from urllib.parse import unquote  # loaded already: fulfillment.client uses urllib.parse

from fulfillment import deadline
from fulfillment._validate import object_without_duplicate_keys
from fulfillment.client import FAIL_FAST_S, BackendConfig, Client
from fulfillment.errors import BackendError, BadBackendData, NotFound, Rejected, Timeout, Unavailable
from fulfillment.logs import redact_path
from fulfillment.values import is_whole_number

__all__ = ["Backend", "backend", "echoed", "expect", "field", "idempotency_key", "reset", "turn_key"]

log = logging.getLogger("fulfillment.backend")

# A retry is only worth it if, after its backoff, at least this much time is left to run it.
RETRY_MIN_ATTEMPT_S = 0.2
BACKOFF_BASE_S = 0.1
# A 429/503 asking for a longer pause than this is not retried within one webhook call.
MAX_RETRY_AFTER_S = 1.0
# Answers worth repeating a read for. 500 is included: on a read it is usually a restarting
# instance or a failover, and a GET is safe to repeat. 501 and 505 will not change; they are
# Unavailable at once. 429 that outlives the retries is Unavailable too: it is "not now", not
# "never" (which is what Rejected says).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# Success for get_json and post_json. Any other 2xx (202 "accepted, maybe later", 204 "no
# body") is not what a JSON contract promises, so it is BadBackendData, never a silent None.
JSON_OK_STATUSES = frozenset({200, 201})
_READ_CHUNK = 64 * 1024
_EXACT_INT = 2**53
# The longest text a backend field may hold (a name, a description): a caller listens to it.
MAX_TEXT_CHARS = 1000
_UNSPEAKABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b\u2028-\u202e\u2060\u2066-\u2069\ufeff]")
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_ERROR_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# --- Call records --------------------------------------------------------------------------

_calls = contextvars.ContextVar("fulfillment_backend_calls", default=None)


class backend_calls:  # lower case: used like a function, ``with backend_calls() as calls``
    """Collect a record of every backend call made inside the block (this context only).

        with backend_calls() as calls:
            store.get_json("/orders/1")
        calls[0]
        # {'backend': 'store', 'method': 'GET', 'path': '/orders/1', 'status': 200,
        #  'outcome': 'ok', 'ms': 12.3, 'attempts': 1, 'cached': False}

    ``outcome`` is ``"ok"`` or the error's ``outcome`` (``"timeout"``, ``"not-found"``, ...).
    Query values and bodies are never recorded: they hold personal data. Calls made on
    another thread are recorded only if that thread runs in a copy of this context
    (``contextvars.copy_context().run``), as with the deadline. (A class rather than a
    generator: it is entered on every webhook call.)
    """

    __slots__ = ("_token", "records", "cached", "answered_by")

    def __init__(self):
        self.records = []
        self.cached = []  # (client, key) of the answers this block put in the cache
        # The spoken name of the backend whose answer was returned last in this call: the
        # data a handler checks is, in practice, the answer it just received, so a failed
        # check names the right system without every check having to say which.
        self.answered_by = None
        self._token = None

    def __enter__(self):
        self._token = _calls.set(self)
        return self.records

    def __exit__(self, *exc):
        _calls.reset(self._token)
        return False


def start_backend_calls():
    """``backend_calls()`` for the rest of the current context; returns its list of records.

    For a call run in a context of its own (see ``deadline.start``): dropped with it.
    """
    calls = backend_calls()
    _calls.set(calls)
    return calls.records


def _record(**entry):
    calls = _calls.get()
    if calls is not None:
        calls.records.append(entry)  # list.append is atomic: safe if the handler fans out to threads


def _note_cached(client, key):
    # Served or stored: a call that finds this answer bad forgets it for everyone.
    calls = _calls.get()
    if calls is not None:
        calls.cached.append((client, key))


def wrote_this_call():
    """Whether a write (any method but GET) succeeded inside the current ``backend_calls()``."""
    calls = _calls.get()
    return calls is not None and any(
        record["method"] != "GET" and record["outcome"] == "ok" for record in calls.records
    )


def forget_cached_answers():
    """Drop from the cache every answer cached inside the current ``backend_calls()`` block.

    The router calls it when a call ends in ``bad-backend-data`` or ``error``: an answer is
    cached before the handler has checked its fields, and a bad one must not be served again
    for the rest of its ``cache_ttl`` after the backend has been mended.
    """
    calls = _calls.get()
    if calls is not None:
        for client, key in calls.cached:
            client.cache_forget(key)


# --- Idempotency keys ----------------------------------------------------------------------


def idempotency_key(detect_intent_response_id, tag, *extra):
    """A stable, opaque ``Idempotency-Key`` for one side effect of one conversational turn.

        >>> idempotency_key("resp-1", "create-return", "ORD-1", "SKU-9")
        '1257a525693cb653c712016d0b8d4ad1'

    The same turn (Dialogflow may deliver it twice) gives the same key, so the backend performs
    the effect once; the ids go through SHA-256, so they never leave in clear.
    """
    import hashlib  # here, not at the top: cold starts pay only for what they use

    if not detect_intent_response_id:
        raise ValueError("idempotency_key needs the turn's detectIntentResponseId")
    # JSON of the parts is unambiguous ("a", "bc") != ("ab", "c") where a plain join is not.
    material = json.dumps([str(detect_intent_response_id), str(tag), *map(str, extra)])
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def turn_key(request, *extra):
    """``idempotency_key`` for this webhook call's turn and tag, or ``None`` without a turn id.

        store.post_json(path, payload, idempotency_key=turn_key(request))

    Dialogflow always sends ``detectIntentResponseId``; a hand-made request may not, and
    then the side effect simply cannot be deduplicated (the call still goes through).
    """
    if not request.detect_intent_response_id:
        log.warning("no detectIntentResponseId: %r cannot be deduplicated", request.tag)
        return None
    # The session too: a turn id is unique per Dialogflow response, but nothing here checks
    # it, and a key shared by two sessions would answer one caller with another's result.
    return idempotency_key(request.detect_intent_response_id, request.tag, request.session, *extra)


# --- The client ----------------------------------------------------------------------------


class _Failed(Exception):
    """One attempt failed with ``error``; ``retry`` says which retries are safe.

    ``retry`` is ``"connect"`` (the request never left: safe to repeat even a POST that
    carries an idempotency key), ``"read"`` (safe to repeat a read) or ``None``.
    """

    def __init__(self, error, retry=None, retry_after=None):
        super().__init__(error)
        self.error = error
        self.retry = retry
        self.retry_after = retry_after


_client = Client()


def reset(client=None):
    """Replace the process-wide client (tests; after changing the environment).

    reset()  # forget session, configuration, cache and tokens; re-read env on next call
    """
    global _client
    old, _client = _client, client or Client()
    old.close()
    return _client


def backend(name, spoken_name=None):
    """A handle on the backend ``name``; cheap, so fine at module level.

        store = backend("store", spoken_name="our order system")
        store.get_json("/orders/ORD-1")

    ``name`` picks the configuration (``BACKEND_STORE_URL`` ...); ``spoken_name`` is what the
    caller hears when it fails ("our order system isn't answering right now").
    """
    handle = Backend(name, spoken_name)
    _declared.add(name)
    return handle


_declared = set()  # the names given to backend(): what check_backends() looks at


def check_backends():
    """Log, at start, what is wrong with the configuration of any backend declared with
    ``backend()``: its tags will answer "unavailable" (see ``Client.check``)."""
    _client.check(sorted(_declared))


class Backend:
    """One backend, as handlers see it: ``get_json`` and ``post_json``."""

    __slots__ = ("name", "spoken_name", "_client")

    def __init__(self, name, spoken_name=None, *, client=None):
        if not _NAME_RE.match(name):
            raise ValueError(f"backend name must be lower-case letters, digits and '-', got {name!r}")
        self.name = name
        self.spoken_name = spoken_name or f"our {name.replace('-', ' ')} system"
        self._client = client  # None: the process-wide client, looked up per call (see reset)

    def __repr__(self):
        return f"Backend({self.name!r}, spoken_name={self.spoken_name!r})"

    @property
    def client(self):
        return self._client or _client

    @property
    def config(self):
        return self.client.config(self.name)

    # --- the calls -----------------------------------------------------------------------

    def get_json(self, path, *, params=None, cache_ttl=None, expect=None):
        """GET ``path`` and return its JSON; reads are retried while the deadline allows.

            order = store.get_json("/orders/ORD-1", expect=dict)
            weather.get_json("/weather/current", params={"city": "Oslo"}, cache_ttl=600)

        ``cache_ttl`` (seconds) answers repeats of the same path and params from memory, and
        concurrent misses of one key wait for one fetch rather than each making their own
        (a weather API is billed per call); ``expect`` (a type, as in ``expect()``) checks
        the top-level shape.
        """
        if not cache_ttl:
            return self._checked(self._call("GET", path, params=params), expect)
        key = (self.name, path, tuple(sorted((str(k), str(v)) for k, v in (params or {}).items())))
        client = self.client
        hit = client.cache_get(key)
        if hit is None:
            fetching = client.cache_fetching(key)
            if fetching is not None:  # another call is fetching this key: wait for its answer
                fetching.wait(max(deadline.remaining() - FAIL_FAST_S, 0.0))
                hit = client.cache_get(key)
                failed = getattr(fetching, "error", None) if hit is None else None
                if failed is not None:
                    # That fetch failed just now (not found, down): its answer is this call's
                    # too. Each waiter fetching again would be the herd the wait is there to stop.
                    _record(backend=self.name, method="GET", path=path, status=failed.status,
                            outcome=failed.outcome, ms=0.0, attempts=0, cached=True)  # fmt: skip
                    raise copy.copy(failed)
        if hit is not None:
            status, body = hit
            _note_cached(client, key)
            _record(
                backend=self.name,
                method="GET",
                path=path,
                status=status,
                outcome="ok",
                ms=0.0,
                attempts=0,
                cached=True,
            )
            return self._checked(self._decode(body, path), expect)
        # A miss: this call fetches (when the one it waited for failed, it tries itself).
        claimed = client.cache_claim(key)
        failed = None
        try:
            data, status, body = self._call("GET", path, params=params, keep_body=True)
            client.cache_put(key, cache_ttl, status, body)
        except BackendError as err:
            failed = err
            raise
        finally:
            if claimed:
                client.cache_release(key, failed)
        _note_cached(client, key)
        return self._checked(data, expect)

    def post_json(self, path, payload, *, idempotency_key=None, expect=None):
        """POST ``payload`` as JSON to ``path``; 200 or 201 with a JSON body is success.

            store.post_json("/orders/ORD-1/returns", {"item_id": "SKU-9"},
                            idempotency_key=turn_key(request, "ORD-1", "SKU-9"))

        Never retried, except when it carries ``idempotency_key`` and the connection could
        not even be opened. Pass a key for every side effect: the backend then performs it
        once however often the turn is delivered.
        """
        headers = {"Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        data = self._call("POST", path, body=body, headers=headers, idempotent=bool(idempotency_key))
        return self._checked(data, expect)

    def _checked(self, data, kind):
        calls = _calls.get()
        if calls is not None:
            calls.answered_by = self.spoken_name
        return data if kind is None else expect(data, kind, system=self.spoken_name)

    # --- machinery -------------------------------------------------------------------------

    def _call(self, method, path, *, params=None, body=None, headers=None, idempotent=False, keep_body=False):
        if (
            not path.startswith("/")
            or path.startswith("//")
            or "/../" in path + "/"
            # requests re-quotes the URL, and so decodes "%2e%2e" to "..": check what is sent.
            or ("%" in path and "/../" in unquote(path) + "/")
            or "?" in path
            or "#" in path
        ):
            # Paths are built from caller input: refuse anything that could leave the backend's
            # tree or smuggle a query. Handlers pass query values in ``params``.
            # The path, redacted, is in the handler's logged traceback: never the caller's data.
            raise ValueError(
                f"backend path must be an absolute path without '..', '?' or '#': {redact_path(path)!r}"
            )
        started = time.monotonic()
        attempts = 0
        status = None
        outcome = "ok"
        try:
            config = self.client.config(self.name)
            if config.problem:
                raise Unavailable(config.problem, system=self.spoken_name)
            while True:
                left = deadline.remaining()
                if left < FAIL_FAST_S:
                    raise Timeout(
                        f"{self._where(method, path)}: only {left * 1000:.0f} ms left",
                        system=self.spoken_name,
                    )
                attempts += 1
                try:
                    data, status, raw_body = self._attempt(config, method, path, params, body, headers)
                    return (data, status, raw_body) if keep_body else data
                except _Failed as failed:
                    status = failed.error.status
                    delay = self._retry_delay(config, method, idempotent, attempts, failed)
                    if delay is None:
                        # No answer at all, but the request went out: it may have been acted on.
                        if method != "GET" and failed.error.status is None and failed.retry == "read":
                            failed.error.may_have_acted = True
                        raise failed.error from failed.__cause__
                    # The error's detail names the backend, method and redacted path.
                    log.debug("%s; retrying in %.0f ms", failed.error.detail, delay * 1000)
                    time.sleep(delay)
        except BackendError as err:
            outcome = err.outcome
            status = err.status
            if method != "GET" and status is not None and not 400 <= status < 500:
                # A 5xx, a redirect, a 202 or an unreadable 201: the write may have happened.
                err.may_have_acted = True
            # detail names the backend, method and redacted path; never a query value, body or key.
            log.warning("backend call failed: %s [%s, %d attempt(s)]", err.detail, err.outcome, attempts)
            raise
        finally:
            _record(
                backend=self.name,
                method=method,
                path=path,
                status=status,
                outcome=outcome,
                ms=round((time.monotonic() - started) * 1000, 1),
                attempts=attempts,
                cached=False,
            )

    def _retry_delay(self, config, method, idempotent, attempts, failed):
        """Seconds to wait before the next attempt, or ``None`` if there must be none."""
        if failed.retry is None or attempts > config.retries:
            return None
        # A POST whose connection was never opened sent nothing: the backend cannot have acted
        # on it, so sending it again cannot double the side effect; and the idempotency key
        # makes even a wrong guess about that harmless. Any other failure (reset, timeout,
        # 5xx) may come after the backend acted: never repeat it here.
        if method != "GET" and not (idempotent and failed.retry == "connect"):
            return None
        import random

        ceiling = BACKOFF_BASE_S * 2 ** (attempts - 1)
        delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto
        if failed.retry_after is not None:
            if failed.retry_after > MAX_RETRY_AFTER_S:
                return None
            delay = max(delay, failed.retry_after)
        if deadline.remaining() - delay < RETRY_MIN_ATTEMPT_S:
            return None
        return delay

    def _attempt(self, config, method, path, params, body, headers):
        from fulfillment._requests import requests

        client = self.client
        send_headers = self._auth_headers(config)  # may mint an ID token: time passes
        if headers:
            send_headers.update(headers)
        timeout = min(config.timeout_s, deadline.remaining())
        if timeout < FAIL_FAST_S:
            raise _Failed(self._timeout(method, path, max(timeout, 0.0), "before sending"))
        token = client.io_deadline.set(time.monotonic() + timeout)
        response = None
        try:
            try:
                response = client.send(method, config.base_url + path, params, body, send_headers, timeout)
            except requests.exceptions.ConnectTimeout as err:
                raise _Failed(self._timeout(method, path, timeout, "connecting"), "connect") from err
            except requests.exceptions.ReadTimeout as err:
                raise _Failed(self._timeout(method, path, timeout, "waiting for the answer"), "read") from err
            except requests.exceptions.SSLError as err:
                # Certificates do not fix themselves within a turn: no retry.
                raise _Failed(self._unavailable(method, path, f"TLS failed: {_cause(err)}")) from err
            except requests.exceptions.ConnectionError as err:
                retry = "connect" if _never_connected(err) else "read"
                raise _Failed(
                    self._unavailable(method, path, f"connection failed: {_cause(err)}"), retry
                ) from err
            except requests.exceptions.RequestException as err:
                raise _Failed(self._unavailable(method, path, f"request failed: {_cause(err)}")) from err

            status = response.status_code
            try:
                raw_body = self._read_body(
                    response, client.settings()["max_body_bytes"], method, path, timeout
                )
            except _Failed:
                if 200 <= status < 300:
                    raise
                raw_body = b""  # the status alone says what went wrong
            if status in JSON_OK_STATUSES:
                _require_json_type(response, self, method, path, status)
                return self._decode(raw_body, path, status), status, raw_body
            raise self._status_failure(response, status, raw_body, method, path)
        finally:
            client.io_deadline.reset(token)
            if response is not None:
                response.close()

    def _read_body(self, response, cap, method, path, timeout):
        """The body, read under the deadline and capped at ``cap`` bytes (decoded)."""
        import urllib3.exceptions

        raw = response.raw
        declared = response.headers.get("Content-Length", "")
        if is_whole_number(declared) and int(declared) > cap:
            # Closing without reading discards the connection (it still holds the body).
            raise _Failed(self._too_big(method, path, cap, response.status_code))
        chunks = []
        size = 0
        try:
            while True:
                chunk = raw.read(_READ_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise _Failed(self._too_big(method, path, cap, response.status_code))
                chunks.append(chunk)
        except urllib3.exceptions.ReadTimeoutError as err:
            raise _Failed(self._timeout(method, path, timeout, "reading the answer"), "read") from err
        except urllib3.exceptions.DecodeError as err:
            raise _Failed(
                BadBackendData(
                    f"{self._where(method, path)}: undecodable content-encoding",
                    system=self.spoken_name,
                    status=response.status_code,
                )
            ) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            # A reset or truncation mid-body is the transport failing, not the backend
            # breaking its contract: Unavailable, and a read may try again.
            raise _Failed(
                self._unavailable(method, path, f"answer cut off: {_cause(err)}", response.status_code),
                "read",
            ) from err
        # Reading to the end has returned the connection to the pool already, so closing the
        # response afterwards does not close the connection; on any failure above it does.
        return b"".join(chunks)

    def _decode(self, raw_body, path, status=200):
        try:
            # json.loads(bytes), with a decoder built once, and strict: no NaN, no encoded surrogates.
            text = raw_body.decode(json.detect_encoding(raw_body))
            data = _STRICT_JSON.decode(text)
            if ("\\ud" in text or "\\uD" in text) and not _utf8_safe(data):
                # A lone "\\udc80" parses, but no UTF-8 answer of ours could carry it.
                raise ValueError("a lone surrogate escape")
            return data
        except (ValueError, RecursionError) as err:
            raise BadBackendData(
                f"{self.name}: {redact_path(path)}: the answer is not JSON ({_cause(err)})",
                system=self.spoken_name,
                status=status,
            ) from err

    def _status_failure(self, response, status, raw_body, method, path):
        where = self._where(method, path)
        system = self.spoken_name
        if 300 <= status < 400:
            return _Failed(
                BadBackendData(
                    f"{where}: answered {status} (redirects are not followed)", system=system, status=status
                )
            )
        if 200 <= status < 300:
            return _Failed(
                BadBackendData(
                    f"{where}: answered {status}, expected 200 or 201 with JSON", system=system, status=status
                )
            )
        if status == 404 and self.config.demo and _error_code(response, raw_body) == "no-such-endpoint":
            log.error(
                "the demo store has no endpoint %s %s: add it to demo_store/api.py", method, redact_path(path)
            )
            return _Failed(Unavailable(f"{where}: no such demo store endpoint", system=system, status=status))
        if status == 404:
            return _Failed(NotFound(f"{where}: not found", system=system, status=status))
        if status in RETRYABLE_STATUSES:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            return _Failed(
                Unavailable(f"{where}: answered {status}", system=system, status=status), "read", retry_after
            )
        if status >= 500:
            return _Failed(Unavailable(f"{where}: answered {status}", system=system, status=status))
        if status in (401, 403):
            config = self.config
            log.error(
                "backend %s refused our credentials (%d): check %sAUTH (%s) and its key",
                self.name, status, BackendConfig.env_prefix(self.name), config.auth,
            )  # fmt: skip
            # Our configuration, not the caller's request: "couldn't accept that request"
            # would blame them. Not retried: the key will not mend within the turn.
            return _Failed(
                Unavailable(f"{where}: refused our credentials ({status})", system=system, status=status)
            )
        if status == 408:
            # The backend gave up waiting for our request: a transient hiccup, not a refusal
            # of what we asked (Rejected promises that repeating it will not help).
            return _Failed(Unavailable(f"{where}: answered 408", system=system, status=status))
        code = _error_code(response, raw_body)
        err = Rejected(
            f"{where}: answered {status}" + (f" ({code})" if code else ""), system=system, status=status
        )
        err.code = code
        return _Failed(err)

    def _auth_headers(self, config):
        if config.auth == "api-key":
            return {config.key_header: config.key}
        if config.auth == "bearer":
            return {"Authorization": f"Bearer {config.key}"}
        if config.auth == "id-token":
            try:
                return {"Authorization": f"Bearer {self.client.id_token(config.audience)}"}
            except Exception as err:
                log.error(
                    "backend %s: could not mint an ID token for %s: %s",
                    self.name,
                    config.audience,
                    _cause(err),
                )
                kind = Timeout if isinstance(err, TimeoutError) else Unavailable
                raise _Failed(
                    kind(f"{self.name}: no ID token ({_cause(err)})", system=self.spoken_name)
                ) from err
        return {}

    def _where(self, method, path):
        """What an error's detail opens with: the backend, the method and the path, with its
        identifying segments redacted (the detail is logged)."""
        return f"{self.name}: {method} {redact_path(path)}"

    def _timeout(self, method, path, timeout, doing):
        return Timeout(
            f"{self._where(method, path)}: no answer within {timeout:.2f} s ({doing})",
            system=self.spoken_name,
        )

    def _unavailable(self, method, path, why, status=None):
        return Unavailable(f"{self._where(method, path)}: {why}", system=self.spoken_name, status=status)

    def _too_big(self, method, path, cap, status):
        return BadBackendData(
            f"{self._where(method, path)}: answer over {cap} bytes (BACKEND_MAX_BODY_BYTES)",
            system=self.spoken_name,
            status=status,
        )


def _require_json_type(response, backend, method, path, status):
    media = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise _Failed(
            BadBackendData(
                f"{backend._where(method, path)}: answered {media or 'no content type'}, not JSON",
                system=backend.spoken_name,
                status=status,
            )
        )


def _error_code(response, raw_body):
    """The backend's machine-readable error code (``code`` or ``error.code``), if it has one.

    Only a short token is kept (``return-window-closed``), never free text: handlers may word
    it for the caller, and the backend's own sentences must not reach the caller.
    """
    if "json" not in (response.headers.get("Content-Type") or "") or not raw_body:
        return None
    try:
        data = json.loads(raw_body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    code = data.get("code")
    if code is None and isinstance(data.get("error"), dict):
        code = data["error"].get("code")
    return code if isinstance(code, str) and _ERROR_CODE_RE.match(code) else None


def _not_json(literal):
    # NaN, Infinity and -Infinity: Python's json reads them, JSON has no such thing.
    raise ValueError(f"{literal} is not JSON")


# {"status": "shipped", "status": "cancelled"}: an ambiguous answer is no answer.
_STRICT_JSON = json.JSONDecoder(parse_constant=_not_json, object_pairs_hook=object_without_duplicate_keys)


def _utf8_safe(data):
    """Whether every string and key of decoded JSON can be written as UTF-8: a lone surrogate
    escape decodes to a code point UTF-8 cannot encode. One encode in C, not a walk in Python."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _retry_after(raw):
    """Retry-After in seconds if given as a number; an HTTP date is treated as "too long"."""
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return float("inf")


def _never_connected(err):
    """True if ``err`` is a connection that was never opened, so no byte of the request left."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    from fulfillment.transport import ConnectFailed

    if isinstance(err, ConnectFailed):
        return True
    reason = err.args[0] if err.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)


def _cause(err):
    """A short reason for logs: the innermost exception's class name (its text may hold URLs).

    requests wraps urllib3 wraps the socket error: ``ConnectionError(MaxRetryError(reason=
    NewConnectionError))``, ``ProtocolError("Connection broken", ConnectionResetError())``.
    """
    for _ in range(8):  # wrappers nest a few levels deep; never loop on a cycle
        reason = getattr(err, "reason", None)
        inner = reason if isinstance(reason, BaseException) else None
        if inner is None:
            inner = next((arg for arg in err.args if isinstance(arg, BaseException)), None)
        if inner is None or inner is err:
            break
        err = inner
    return type(err).__name__


# --- Shape checks for backend data -----------------------------------------------------------


def _answered_by():
    """Who gave the data a handler checks (see ``backend_calls.answered_by``)."""
    calls = _calls.get()
    return (calls.answered_by if calls is not None else None) or "our system"


def expect(value, kind, what="the answer", *, system=None):
    """``value`` if it is a ``kind`` (a type or a tuple of types), else ``BadBackendData``.

        matches = expect(customers.get_json("/customers", params={"email": email}), list)

    JSON-minded: ``bool`` is not an ``int``, and an ``int`` is a ``float``; an infinity, or an
    number beyond ±2**53, is no number at all. A ``str`` holds no control character (line
    breaks included) or direction override, and at most ``MAX_TEXT_CHARS`` characters.
    ``system`` names who gave ``value`` in the error (by default, the backend that answered
    last in this webhook call).
    """
    if _is_kind(value, kind):
        return value
    got = type(value).__name__
    if got in ("int", "float") and _is_kind(0, kind):
        got = "a number out of range"
    elif got == "str" and _is_kind("", kind):
        got = "text too long or with control characters"
    raise BadBackendData(f"{what} is {got}, expected {_kind_name(kind)}", system=system or _answered_by())


def field(data, name, kind, *, required=True):
    """``data[name]`` checked to be a ``kind``; ``BadBackendData`` if it is not.

        status = field(order, "status", str)
        tracking = field(order, "tracking_number", str, required=False)  # None if absent

    Absent, ``null`` or blank text is an error unless ``required=False`` (then ``None``); a value of
    the wrong type is always an error, and so is text a caller should not hear (see ``expect``).
    """
    expect(data, dict, what=f"the object holding {name!r}")
    value = data.get(name)
    if value is None or (value.__class__ is str and not value.strip()):  # "" or " " says nothing
        if not required:
            return None
        raise BadBackendData(f"the answer has no {name!r}", system=_answered_by())
    return expect(value, kind, what=repr(name))


def echoed(data, name, asked):
    """``data``, checked to be about what was asked: ``data[name]``, when the backend sends it,
    must be ``asked`` (case aside), else ``BadBackendData``.

        order = echoed(store.get_json(f"/orders/{order_id}"), "order_id", order_id)

    An answer meant for another request (a backend, proxy or cache out of step) would
    otherwise have one caller hear another's order, account or name.
    """
    said = field(data, name, (str, int), required=False)
    if said is not None and str(said).casefold() != str(asked).casefold():
        raise BadBackendData(f"the answer is about another {name!r}", system=_answered_by())
    return data


def _is_kind(value, kind):
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, float):
        # 1e999 is valid JSON and reads as infinity, 1e300 as 300 digits read out: no amount,
        # count or temperature is that large.
        return float in kinds and math.isfinite(value) and -_EXACT_INT <= value <= _EXACT_INT
    if isinstance(value, str):
        # Text is read out and stored in session parameters: control characters (NUL, escape
        # sequences, line breaks), direction overrides that reorder what is shown, and pages
        # of text are a broken backend, not something to say.
        return str in kinds and len(value) <= MAX_TEXT_CHARS and not _UNSPEAKABLE.search(value)
    if isinstance(value, int):
        # Beyond 2**53 most JSON readers (Dialogflow's among them) lose the digits, and the
        # proto's double cannot hold 400 nines at all (I-JSON, RFC 7493).
        return (int in kinds or float in kinds) and -_EXACT_INT <= value <= _EXACT_INT
    return isinstance(value, kinds)


def _kind_name(kind):
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)
