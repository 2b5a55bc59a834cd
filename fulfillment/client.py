"""What every backend of a process shares: the pooled session, the configuration, the answer
cache and the ID tokens.

    client = Client(env={"BACKEND_STORE_URL": "http://127.0.0.1:8081"})
    client.backend("store", spoken_name="our order system").get_json("/orders/1")

``fulfillment.backend`` is what handlers call (``backend("store").get_json(...)``); this module
is what stands behind it, as a ``requests.Session`` stands behind ``requests.get``: it is built
once per process, lazily (nothing here imports ``requests`` until the first call), and
``fulfillment.transport`` is the adapter behind it.
"""

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from fulfillment import deadline
from fulfillment.config import flag, number

__all__ = ["BackendConfig", "Client"]

# One logger for everything about backend calls, wherever in the package it is written.
log = logging.getLogger("fulfillment.backend")

DEFAULT_TIMEOUT_S = 4.0
MIN_TIMEOUT_S = 0.1
DEFAULT_RETRIES = 2
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# gunicorn's gthread worker runs up to 64 threads; each may hold one connection per host.
POOL_SIZE = 64
# Below this much time left, a call cannot succeed: fail at once instead of opening a socket.
FAIL_FAST_S = 0.05
CACHE_MAX_ENTRIES = 1024
ID_TOKEN_REFRESH_MARGIN_S = 300.0
_USER_AGENT = "cx-webhook-fulfillment/1 (+python-requests)"

DEMO_STORE_MODULE = "demo_store"

AUTH_MODES = ("none", "api-key", "bearer", "id-token")


# --- Configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class BackendConfig:
    """How to reach one backend, resolved once from the environment.

    ``problem`` is set (and every call raises ``Unavailable``) when the backend cannot be
    reached as configured: no URL with the demo store off, an unknown auth mode, a missing key.
    """

    name: str
    base_url: str = ""
    auth: str = "none"
    key: str = field(default="", repr=False)  # a secret: never logged, never in repr
    key_header: str = "X-API-Key"
    audience: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    demo: bool = False
    problem: str = ""
    # No URL with the demo store off: unused here, perhaps on purpose, rather than mistyped.
    missing_url: bool = False

    @staticmethod
    def env_prefix(name):
        return "BACKEND_" + name.upper().replace("-", "_") + "_"


# RFC 9110's token: what a header name or a method is made of. Here, where the settings are
# read without loading the transport (and requests) at start; the transport checks with it too.
HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _is_http_url(url):
    """An http(s) URL with a host that can be looked up and a port that can be dialled."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of range or not a number
        (parts.hostname or "").encode("idna")
    except (ValueError, UnicodeError):
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _in_clear(url):
    """Whether ``url`` is plain http to anything but this machine."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname == "localhost":
        return False
    import ipaddress  # only for a plain-http backend, at start

    try:
        return not ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:  # a name: it could resolve anywhere
        return True


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _demo_store():
    import importlib

    return importlib.import_module(DEMO_STORE_MODULE).shared()


def _demo_store_on(env):
    """``DEMO_STORE`` (default on). A value that is no flag, which ``Settings.from_env``
    refuses at start, counts as off: sample data must never answer callers by mistake."""
    try:
        return flag(env, "DEMO_STORE", default=True)
    except ValueError:
        return False


def _read_config(name, env, *, demo=True):
    """``name``'s ``BackendConfig`` from ``env``. Without a URL, the embedded demo store,
    started here; with ``demo=False``, ``None`` instead (resolved on first use)."""
    prefix = BackendConfig.env_prefix(name)
    try:
        # 0 is no "no cap": every call would time out before it is sent.
        timeout_s = number(env, prefix + "TIMEOUT_S", DEFAULT_TIMEOUT_S, float, minimum=MIN_TIMEOUT_S)
        retries = number(env, prefix + "RETRIES", DEFAULT_RETRIES, int)
    except ValueError as err:
        return BackendConfig(name, problem=str(err))
    base_url = (env.get(prefix + "URL") or "").strip().rstrip("/")

    if not base_url:
        if not _demo_store_on(env):
            demo_setting = env.get("DEMO_STORE", "").strip()[:20]
            return BackendConfig(
                name,
                problem=f"{prefix}URL is not set (DEMO_STORE={demo_setting} disables the demo store)",
                missing_url=True,
            )
        if not demo:
            return None
        try:
            store = _demo_store()
        except Exception as err:  # the demo store is optional; any failure means "not there"
            return BackendConfig(
                name,
                problem=f"{prefix}URL is not set and the demo store failed: {err!r}",
            )
        auth, key = store.credentials(name)
        base_url = str(store.url).rstrip("/")
        log.warning(
            "backend %r is the embedded demo store at %s (set %sURL for a real one)", name, base_url, prefix
        )
        return BackendConfig(
            name,
            base_url=base_url,
            auth=auth,
            key=key,
            timeout_s=timeout_s,
            retries=retries,
            demo=True,
        )

    if not _is_http_url(base_url):
        # The value is not echoed: a mistyped URL may still carry a password.
        return BackendConfig(name, problem=f"{prefix}URL is not an http(s) URL")
    if "@" in urlsplit(base_url).netloc:
        # Never sent (the transport dials the host), but an ID token's audience is made of the
        # URL's origin and logged when a token cannot be minted: the password with it.
        return BackendConfig(name, problem=f"{prefix}URL holds credentials: use {prefix}AUTH and {prefix}KEY")
    auth = (env.get(prefix + "AUTH") or "none").strip().lower()
    if auth not in AUTH_MODES:
        return BackendConfig(
            name, problem=f"{prefix}AUTH must be one of {', '.join(AUTH_MODES)}, got {auth!r}"
        )
    key = (env.get(prefix + "KEY") or "").strip()
    if auth in ("api-key", "bearer") and not key:
        return BackendConfig(name, problem=f"{prefix}AUTH={auth} needs {prefix}KEY")
    if key and auth not in ("api-key", "bearer"):
        # Set and never sent: every call would be refused by a backend that wants it.
        return BackendConfig(
            name,
            problem=f"{prefix}KEY is set but {prefix}AUTH={auth} never sends it: "
            f"set {prefix}AUTH=api-key or bearer, or unset {prefix}KEY",
        )
    if not (key.isascii() and key.isprintable()):
        # A line break inside it would end the header early (the request is refused); the
        # key itself is never shown.
        return BackendConfig(name, problem=f"{prefix}KEY holds a control or non-ASCII character")
    key_header = (env.get(prefix + "KEY_HEADER") or "X-API-Key").strip()
    if not HTTP_TOKEN.fullmatch(key_header):
        # "X-API-Key: sk_live_…" (the key pasted in with its header) is shown up to the colon.
        shown = key_header.split(":", 1)[0].split("=", 1)[0]
        shown += "…" if shown != key_header else ""
        return BackendConfig(name, problem=f"{prefix}KEY_HEADER {shown!r} is not a header name")
    if auth != "none" and _in_clear(base_url):
        # Not refused: a backend inside the VPC may well speak plain HTTP. But it is worth
        # a line at start, where the team reads its settings, not a surprise in an audit.
        log.warning(
            "backend %r: %sAUTH=%s credentials go over plain http to %s, readable by anyone on "
            "the path: use an https URL",
            name,
            prefix,
            auth,
            urlsplit(base_url).hostname,
        )
    return BackendConfig(
        name,
        base_url=base_url,
        auth=auth,
        key=key,
        key_header=key_header,
        # Cloud Run checks the audience against the service URL, which has no path.
        audience=(env.get(prefix + "AUDIENCE") or "").strip() or _origin(base_url),
        timeout_s=timeout_s,
        retries=retries,
    )


# --- ID tokens (Cloud Run service-to-service) -----------------------------------------------


def _token_expiry(token):
    """The ``exp`` claim of a JWT, read without verifying it (we minted it; we only need when)."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return 0.0  # unreadable: use it for this call only


def _mint_id_token(session, audience):
    # google-auth costs ~100 ms to import: only backends in id-token mode pay for it.
    import google.auth.transport.requests
    import google.oauth2.id_token

    class DeadlineBoundRequest(google.auth.transport.requests.Request):
        # google-auth waits up to 120 s for the metadata server by default; the caller of a
        # webhook does not. Same total bound as a backend call (see transport.io_deadline).
        def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
            from fulfillment.transport import io_deadline

            left = max(deadline.remaining(), FAIL_FAST_S)
            timeout = left if timeout is None else min(timeout, left)
            token = io_deadline.set(time.monotonic() + timeout)
            try:
                return super().__call__(url, method, body, headers, timeout=timeout, **kwargs)
            finally:
                io_deadline.reset(token)

    return google.oauth2.id_token.fetch_id_token(DeadlineBoundRequest(session), audience)


# --- The client ----------------------------------------------------------------------------


class Client:
    """Owns what all backends of a process share: the pooled HTTP session, each backend's
    configuration, the answer cache and the ID tokens. Thread-safe.

        client = Client(env={"BACKEND_STORE_URL": "http://127.0.0.1:8081"})
        client.backend("store", spoken_name="our order system").get_json("/orders/1")

    Handlers use the process-wide client through ``backend()``; build your own for tests or
    tools. ``env`` defaults to ``os.environ``, read at first use, never at construction.
    """

    def __init__(self, env=None, *, cache_clock=time.monotonic):
        self._env = env
        self._cache_clock = cache_clock
        self._lock = threading.Lock()  # guards lazy creation of the session
        self._session = None
        self._settings = None
        self._configs = {}
        self._config_lock = threading.Lock()  # separate: resolving may start the demo store
        self._cache = None
        self._cache_lock = threading.Lock()
        self._fetching = {}  # cache key -> threading.Event, while one call fetches it
        self._tokens = {}  # audience -> (token, exp)
        self._io_deadline = None
        self._token_lock = threading.Lock()

    def backend(self, name, spoken_name=None):
        """A handle on backend ``name`` through this client (see ``fulfillment.backend.backend``)."""
        from fulfillment.backend import Backend  # the face imports us, not the other way round

        return Backend(name, spoken_name, client=self)

    # -- lazily built shared state --

    @property
    def env(self):
        return os.environ if self._env is None else self._env

    def settings(self):
        """Process-wide settings: ``{"trust_env": bool, "max_body_bytes": int}``."""
        if self._settings is None:
            env = self.env
            try:
                max_body_bytes = number(env, "BACKEND_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, int)
            except ValueError as err:
                log.error("%s; using %d", err, DEFAULT_MAX_BODY_BYTES)
                max_body_bytes = DEFAULT_MAX_BODY_BYTES
            try:
                trust_env = flag(env, "BACKEND_TRUST_ENV")
            except ValueError as err:  # Settings.from_env refuses this at start
                log.error("%s; using false", err)
                trust_env = False
            self._settings = {
                "trust_env": trust_env,
                "max_body_bytes": max_body_bytes,
            }
        return self._settings

    def session(self):
        """The pooled ``requests.Session`` shared by every backend and thread; built once."""
        session = self._session
        if session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._new_session()
                session = self._session
        return session

    @property
    def io_deadline(self):
        """The transport's per-call read deadline (a ContextVar), loaded on first use."""
        var = self._io_deadline
        if var is None:
            from fulfillment.transport import io_deadline

            var = self._io_deadline = io_deadline
        return var

    def _new_session(self):
        from fulfillment._requests import requests

        session = requests.Session()
        # Proxies, netrc and CA bundles from the environment only when asked: on Cloud
        # Functions they are never meant for backend calls, and reading them costs per call.
        session.trust_env = self.settings()["trust_env"]
        from fulfillment.transport import PooledAdapter

        # Our own transport (see fulfillment/transport.py for why and what it measured): a
        # 65th concurrent call opens a spare connection instead of waiting; retries are ours.
        adapter = PooledAdapter(pool_maxsize=POOL_SIZE)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # Small JSON answers: compressing them costs both sides more CPU than it saves.
        session.headers.update(
            {"User-Agent": _USER_AGENT, "Accept": "application/json", "Accept-Encoding": "identity"}
        )
        return session

    def send(self, method, url, params, body, headers, timeout):
        """Send one request through the session's transport adapter; a streamed response.

        ``Session.request`` spends about 300 µs a call (measured; more than a loopback
        backend takes to answer) merging cookie jars, hooks and per-call settings that our
        fixed-shape calls never use. So we prepare the request ourselves and hand it to the
        adapter the session mounted: pooling, TLS verification and timeouts are exactly the
        session's, and test doubles that replace ``HTTPAdapter.send`` (``responses``) still
        see every call. Not merging cookies is deliberate too: one jar shared by every
        caller's calls would carry one caller's backend session into another's.
        """
        from requests import PreparedRequest
        from requests.utils import requote_uri

        session = self.session()
        if params:
            url += "?" + urlencode(params, doseq=True)
        prepared = PreparedRequest()
        prepared.method = method
        prepared.url = requote_uri(url)  # what requests itself does to a URL
        prepared.headers = session.headers.copy()
        prepared.headers.update(headers)
        prepared.body = body
        if body is not None:
            prepared.headers["Content-Length"] = str(len(body))
        prepared.hooks = {"response": []}
        proxies = session.proxies
        verify = session.verify
        if session.trust_env:
            settings = session.merge_environment_settings(prepared.url, {}, False, None, None)
            proxies, verify = settings["proxies"], settings["verify"]
        adapter = session.get_adapter(prepared.url)
        return adapter.send(
            prepared,
            stream=True,
            timeout=(timeout, timeout),
            verify=verify,
            cert=session.cert,
            proxies=proxies,
        )

    def config(self, name):
        """The resolved ``BackendConfig`` of ``name``; read from the environment once."""
        return self._configs.get(name) or self._resolve(name)

    def check(self, names):
        """Resolve each backend of ``names`` now, at start, so what is wrong with one (a URL
        that is not one, an unknown auth mode, a missing key) is logged before any call needs
        it. A backend left to the demo store is resolved, and the store started, on first use.
        The settings all backends share (``BACKEND_MAX_BODY_BYTES``) are read now too.
        """
        self.settings()
        for name in names:
            self._resolve(name, demo=False)

    def _resolve(self, name, *, demo=True):
        with self._config_lock:
            config = self._configs.get(name)
            if config is None:
                config = _read_config(name, self.env, demo=demo)
                if config is None:  # the demo store's, not started yet
                    return None
                if config.problem:
                    # At start, a backend left without a URL may simply be unused by this
                    # agent; when a call needs it, or when its settings are wrong, it is an error.
                    unused = config.missing_url and not demo
                    level = logging.WARNING if unused else logging.ERROR
                    log.log(level, "backend %r cannot be called: %s", name, config.problem)
                self._configs[name] = config
        return config

    def _answer_cache(self):
        if self._cache is None:
            import cachetools

            with self._cache_lock:
                if self._cache is None:
                    # TLRU: each entry carries its own time-to-use, so every call may choose
                    # its own cache_ttl; a TTLCache has one TTL for all.
                    self._cache = cachetools.TLRUCache(
                        maxsize=CACHE_MAX_ENTRIES,
                        ttu=lambda _key, entry, now: now + entry[0],
                        timer=self._cache_clock,
                    )
        return self._cache

    def cache_get(self, key):
        cache = self._answer_cache()
        with self._cache_lock:
            entry = cache.get(key)
        return None if entry is None else entry[1:]

    def cache_put(self, key, ttl, status, body):
        cache = self._answer_cache()
        with self._cache_lock:
            cache[key] = (ttl, status, body)

    def cache_fetching(self, key):
        """The event a fetch of ``key`` in progress sets when it ends, or ``None``."""
        return self._fetching.get(key)

    def cache_claim(self, key):
        """Announce a fetch of ``key``; False if another is already announced."""
        with self._cache_lock:
            if key in self._fetching:
                return False
            self._fetching[key] = threading.Event()
            return True

    def cache_release(self, key, error=None):
        """End the fetch of ``key``; ``error``, if it failed, is what its waiters raise."""
        with self._cache_lock:
            done = self._fetching.pop(key)
        done.error = error
        done.set()

    def cache_forget(self, key):
        cache = self._answer_cache()
        with self._cache_lock:
            cache.pop(key, None)

    def id_token(self, audience):
        """A Google ID token for ``audience``, minted once and reused until 5 min before expiry."""
        cached = self._tokens.get(audience)
        if cached and time.time() < cached[1] - ID_TOKEN_REFRESH_MARGIN_S:
            return cached[0]
        # One refresh at a time; the others wait for it and reuse its token, but no longer
        # than their own deadline allows.
        if not self._token_lock.acquire(timeout=max(deadline.remaining(), 0.0)):
            raise TimeoutError("no time left while another thread refreshed the ID token")
        try:
            cached = self._tokens.get(audience)
            if cached and time.time() < cached[1] - ID_TOKEN_REFRESH_MARGIN_S:
                return cached[0]
            try:
                token = _mint_id_token(self.session(), audience)
            except Exception:
                if cached and time.time() < cached[1] - 30:
                    # Still valid for a while: better than failing the caller's turn.
                    log.warning("could not refresh the ID token for %s; using the current one", audience)
                    return cached[0]
                raise
            self._tokens[audience] = (token, _token_expiry(token))
            return token
        finally:
            self._token_lock.release()

    def close(self):
        """Close the pooled connections (tests, or a worker shutting down)."""
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()
