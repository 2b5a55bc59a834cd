"""Google's ID-token signing keys: fetched rarely, shared by every request, never waited on long.

``auth.IdTokenMode`` asks ``GoogleSigningKeys.verifier(kid)`` for the verifier of a token's
key. Everything about getting those keys lives here: the cache and its freshness, one fetch
at a time, the refresh a rotated key forces (and its rate limit), and the small GET itself,
bounded by what is left of the webhook call.
"""

import json
import logging
import math
import re
import threading
import time

from fulfillment import deadline

# Auth's logger: a key fetch that fails is an authentication problem to whoever reads the logs.
log = logging.getLogger("fulfillment.auth")

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"

_MAX_AGE_RE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


class KeysUnavailable(Exception):
    """Google's signing keys could not be fetched and no earlier copy is at hand."""


class _KeyState:
    """One snapshot of the key cache, replaced whole so readers never see half an update."""

    __slots__ = ("verifiers", "fresh_until", "attempts", "last_attempt_at", "failure")

    def __init__(
        self, verifiers=None, *, fresh_until=-math.inf, attempts=0, last_attempt_at=-math.inf, failure=""
    ):
        self.verifiers = verifiers  # kid → google.auth.crypt.RSAVerifier; None: never fetched
        self.fresh_until = fresh_until
        self.attempts = attempts
        self.last_attempt_at = last_attempt_at
        self.failure = failure


def _rsa_verifier(certificate_pem):
    from cryptography import x509
    from google.auth.crypt import RSAVerifier

    if not isinstance(certificate_pem, str):
        raise TypeError("certificate is not a string")
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
    return RSAVerifier(certificate.public_key())  # ValueError unless the key is RSA


def _freshness(headers, default_s, min_s, max_s):
    """Seconds the fetched keys stay fresh, from ``Cache-Control: max-age`` less ``Age``."""
    cache_control = headers.get("Cache-Control") or ""
    match = _MAX_AGE_RE.search(cache_control)
    max_age = float(match.group(1)) if match else default_s
    if re.search(r"\bno-(?:cache|store)\b", cache_control, re.IGNORECASE):
        max_age = 0.0
    age = (headers.get("Age") or "").strip()
    if age.isdigit():
        max_age -= float(age)
    return min(max(max_age, min_s), max_s)


class GoogleSigningKeys:
    """Google's ID-token certificates, fetched rarely and shared by every request.

    * Cached for the response's ``Cache-Control: max-age`` (an hour when absent), kept between
      30 s and a day: a zero would mean one fetch per request, a year would pin rotated keys.
    * One fetch at a time. Without any keys, callers wait for the fetch in progress (bounded
      by the webhook deadline) and share its outcome; with stale keys, they do not wait and
      keep using the stale copy.
    * A token whose ``kid`` is unknown forces one refresh (Google rotated its keys), but at
      most one fetch per ``min_refresh_interval_s``: made-up kids cannot make us hammer Google.
    * A failed refresh keeps the previous keys and is retried after the same interval.

        >>> keys = GoogleSigningKeys(GOOGLE_CERTS_URL)  # doctest: +SKIP
        >>> keys.verifier(kid).verify(signed_part, signature)  # doctest: +SKIP
        True
    """

    fetch_timeout_cap_s = 3.0
    min_refresh_interval_s = 30.0
    default_max_age_s = 3600.0
    max_max_age_s = 86400.0

    def __init__(self, url=GOOGLE_CERTS_URL, *, clock=time.monotonic, http_get=None):
        self.url = url
        self._clock = clock
        self._http_get = http_get or http_get_json
        self._lock = threading.Lock()
        self._state = _KeyState()

    def verifier(self, kid):
        """The verifier for ``kid``, or ``None`` when Google has no such key; may fetch.

        Raises ``KeysUnavailable`` when there are no keys at all and none can be fetched.
        """
        state = self._state
        now = self._clock()
        if state.verifiers is None:
            state = self._refresh(state, wait=True)
        elif now >= state.fresh_until and now - state.last_attempt_at >= self.min_refresh_interval_s:
            state = self._refresh(state, wait=False)
        verifier = state.verifiers.get(kid)
        if verifier is None and self._clock() - state.last_attempt_at >= self.min_refresh_interval_s:
            state = self._refresh(state, wait=True)
            verifier = state.verifiers.get(kid)
        return verifier

    def _refresh(self, seen, *, wait):
        if wait:
            # Waiting longer than the call has left is pointless: Dialogflow will have given up.
            timeout = min(self.fetch_timeout_cap_s, deadline.remaining())
            acquired = timeout > 0 and self._lock.acquire(timeout=timeout)
        else:
            acquired = self._lock.acquire(blocking=False)
        if not acquired:
            if seen.verifiers is not None:
                return seen  # another request is fetching; the copy we have still verifies
            raise KeysUnavailable("no time left in this webhook call to wait for the key fetch")
        try:
            current = self._state
            if current.attempts != seen.attempts:
                # Another request fetched while we waited: its outcome is as fresh as ours would be.
                if current.verifiers is None:
                    raise KeysUnavailable(current.failure)
                return current
            return self._fetch(current)
        finally:
            self._lock.release()

    def _fetch(self, current):
        try:
            verifiers, fresh_for = self._download()
        except KeysUnavailable as failure:
            self._state = _KeyState(
                current.verifiers,
                fresh_until=current.fresh_until,
                attempts=current.attempts + 1,
                last_attempt_at=self._clock(),
                failure=str(failure),
            )
            keeping = "; keeping the previous keys" if current.verifiers is not None else ""
            log.warning(
                "auth: could not fetch Google's signing keys from %s: %s%s", self.url, failure, keeping
            )
            if current.verifiers is None:
                raise
            return self._state
        now = self._clock()
        self._state = _KeyState(
            verifiers=verifiers,
            fresh_until=now + fresh_for,
            attempts=current.attempts + 1,
            last_attempt_at=now,
        )
        log.info("auth: fetched %d Google signing keys, fresh for %.0f s", len(verifiers), fresh_for)
        return self._state

    def _download(self):
        timeout = min(self.fetch_timeout_cap_s, deadline.remaining())
        if timeout <= 0:
            raise KeysUnavailable("no time left in this webhook call to fetch keys")
        status, headers, body = self._http_get(self.url, timeout)
        if status != 200:
            raise KeysUnavailable(f"HTTP {status}")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise KeysUnavailable("response is not JSON") from None
        if not isinstance(document, dict):
            raise KeysUnavailable("response is not a JSON object of certificates")
        verifiers = {}
        for kid, certificate_pem in document.items():
            try:
                verifiers[kid] = _rsa_verifier(certificate_pem)
            except (TypeError, ValueError) as exc:
                log.warning("auth: skipping unusable certificate %s: %s", repr(kid)[:60], type(exc).__name__)
        if not verifiers:
            raise KeysUnavailable("no usable RSA certificate in the response")
        fresh_for = _freshness(
            headers, self.default_max_age_s, self.min_refresh_interval_s, self.max_max_age_s
        )
        return verifiers, fresh_for


# Google's key document is a few kB; anything much larger is not it.
MAX_KEYS_BYTES = 1024 * 1024


def http_get_json(url, timeout):
    """GET ``url`` for the key cache: ``(status, headers, body)``, or ``KeysUnavailable``,
    within ``timeout`` seconds in all.

    The standard library's client, not ``requests``: one small GET an hour does not justify
    ~40 ms of cold start and ~5 MiB of memory on a service that may never call a backend
    (measured: cold start with ID-token auth went from 1.50x to 1.2x bare). TLS is verified
    with the default context (the system's CA store). urllib's timeout bounds each socket
    operation, not the name lookup nor the whole exchange (an answer that trickles in keeps
    it going), so the fetch runs on its own thread and the caller waits at most ``timeout``.
    A fetch given up on runs to its end in the background, its answer unused: each of its
    socket operations still times out, and it reads at most ``MAX_KEYS_BYTES``.
    """
    outcome = []

    def fetch():
        try:
            outcome.append(_urllib_get(url, timeout))
        except Exception as exc:  # handed to the waiting caller, raised there
            outcome.append(exc)

    worker = threading.Thread(target=fetch, name="google-keys", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise KeysUnavailable(f"no whole answer within {timeout:.2f} s")
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]


def _urllib_get(url, timeout):
    import http.client
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - same URL
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - https or loopback, checked at start
            return response.status, response.headers, response.read(MAX_KEYS_BYTES)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, b""
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        raise KeysUnavailable(f"{type(exc).__name__}: {str(exc)[:200]}") from None
