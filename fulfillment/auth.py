"""Who may call the webhook: the Dialogflow agent, and nobody else.

The router builds one ``Authenticator`` at start and calls ``check(headers)`` before any
handler runs. ``check`` returns who the caller is, or raises ``errors.Unauthenticated`` (401),
``errors.Forbidden`` (403) or, when Google's signing keys cannot be had, a 503
``RequestError``.

    >>> auth = Authenticator.from_env({"AUTH_MODES": "basic",
    ...                                "AUTH_BASIC_USERNAME": "cx", "AUTH_BASIC_PASSWORD": "pw"})
    >>> auth.describe()
    'auth: basic'
    >>> auth.check({"authorization": "Basic Y3g6cHc="})
    'basic:cx'

Modes (``AUTH_MODES``, a comma list; a request passes if any listed mode accepts it):

``id-token``
    ``Authorization: Bearer <ID token>``, what Dialogflow sends by default (service agent
    auth): a JWT signed by Google for ``service-<PROJECT_NUMBER>@gcp-sa-dialogflow...``.
    Checked: RS256 signature against Google's published certificates, issuer, ``exp`` /
    ``iat`` / ``nbf`` with ``AUTH_CLOCK_SKEW_S`` of slack, audience (``AUTH_AUDIENCES``), then
    the identity: ``email_verified`` and ``email`` in ``AUTH_ALLOWED_EMAILS``.
``basic``
    ``Authorization: Basic base64(user:pass)`` against ``AUTH_BASIC_USERNAME`` /
    ``AUTH_BASIC_PASSWORD``.
``header``
    A static secret header, ``AUTH_HEADER_NAME: AUTH_HEADER_VALUE`` (Dialogflow's "request
    headers", ideally filled from Secret Manager).
``none``
    Everyone gets in. The default outside Google Cloud only, and logged loudly.

Why signatures are checked with google-auth's ``RSAVerifier`` rather than
``google.auth.jwt.decode(token, certs=...)``: ``decode`` parses every certificate it is
given on every call (about as costly as the RSA check itself), cannot say *why* a token
failed except in free text, and does not look at ``nbf``. So this module splits the token
itself (strictly: three base64url parts, two JSON objects), builds one verifier per Google
certificate when the certificates are fetched, and checks the claims one by one, each with
its own logged reason. The signature is checked before any claim, so a forged token is
reported as forged, never as "expired".

Cold start: nothing here imports ``requests``, ``google.auth`` or ``cryptography`` until the
first ID token is verified: about 0.1 s of imports (``requests`` ~70-90 ms, ``cryptography.x509``
and ``google.auth.crypt`` ~35 ms, measured without .pyc files), paid by that first call rather
than by every instance start, and never by instances that use basic or header auth. After that,
one verification costs about 40 µs (one RSA-2048 check against a verifier built at fetch time).

Secrets never leave this module: only SHA-256 digests of the basic password and header value
are kept, and no log line, exception message or response body holds a credential. Reasons
for a refusal are logged at WARNING on ``fulfillment.auth`` and kept on the error as
``err.reason`` for the call's structured log; the caller only ever reads "missing or invalid
credentials".
"""

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import os
import re
import time

from fulfillment import errors
from fulfillment.config import csv, flag, number, on_google_cloud
from fulfillment.google_keys import GOOGLE_CERTS_URL, GoogleSigningKeys, KeysUnavailable

log = logging.getLogger("fulfillment.auth")

MODES = ("id-token", "basic", "header", "none")

GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
DIALOGFLOW_SERVICE_AGENT = "service-{project_number}@gcp-sa-dialogflow.iam.gserviceaccount.com"
DEFAULT_REALM = "cx-webhook"
DEFAULT_CLOCK_SKEW_S = 10.0
# More slack than this no longer protects against replaying an expired token.
MAX_CLOCK_SKEW_S = 300.0

OPEN_WARNING = "AUTHENTICATION IS OFF: every caller is accepted. Local development only."
UNAUTHENTICATED_MESSAGE = "missing or invalid credentials"
FORBIDDEN_MESSAGE = "these credentials are not allowed to call this webhook"
UNAVAILABLE_MESSAGE = "credentials cannot be verified right now; try again shortly"

# Google ID tokens are about 1 KB; a much longer "token" is not one, and is not worth parsing.
MAX_TOKEN_CHARS = 8192

_SERVICE_AGENT_RE = re.compile(r"^service-(\d+)@gcp-sa-dialogflow\.iam\.gserviceaccount\.com$")
_BASE64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
_PRINTABLE_RE = re.compile(r"[\x20-\x7e]+")


class _Refusal(Exception):
    """One mode's verdict against a request; ``forbidden`` when the identity is known but not allowed."""

    def __init__(self, reason, *, forbidden=False):
        super().__init__(reason)
        self.reason = reason
        self.forbidden = forbidden


# --- Reading headers ----------------------------------------------------------------------------


def _header(headers, name):
    """The one value of header ``name`` (any case), or ``None`` when absent or empty.

    Two values for a credential header are refused: which one a proxy and we would each pick
    is exactly the ambiguity request smuggling lives on.
    """
    getlist = getattr(headers, "getlist", None)
    if getlist is not None:  # werkzeug Headers: already case-insensitive
        values = getlist(name)
    else:
        wanted = name.lower()
        values = [value for key, value in headers.items() if key.lower() == wanted]
    values = [value.strip() for value in values if value and value.strip()]
    if not values:
        return None
    if len(values) > 1:
        raise _Refusal(f"{len(values)} {name} headers")
    return values[0]


def _authorization(headers, scheme):
    """The parameter of ``Authorization: <scheme> <parameter>`` (scheme in lower case), or a refusal."""
    value = _header(headers, "Authorization")
    if value is None:
        raise _Refusal("no Authorization header")
    found, parameter = _split_authorization(value)
    if found != scheme:
        raise _Refusal(f"Authorization scheme is not {scheme.capitalize()}")
    return parameter


def _split_authorization(value):
    """``"Bearer abc"`` → ``("bearer", "abc")``: the scheme in lower case, then its parameter."""
    scheme, _, parameter = value.partition(" ")
    return scheme.lower(), parameter.strip()


def _digest(value):
    # Comparing fixed-size digests keeps even the length of a secret out of the timing.
    if isinstance(value, str):
        value = value.encode("utf-8")
    return hashlib.sha256(value).digest()


# --- Modes -------------------------------------------------------------------------------------


class HeaderTokenMode:
    """A static secret in one header; ``judge`` returns ``"header:<name>"`` or raises ``_Refusal``.

    >>> mode = HeaderTokenMode("X-Webhook-Token", "s3cret")
    >>> mode.judge({"x-webhook-token": "s3cret"})
    'header:X-Webhook-Token'
    """

    name = "header"

    def __init__(self, header_name, value):
        self.header_name = header_name
        self._digest = _digest(value.strip())

    # A 401 must carry a challenge; a custom header has no standard scheme, so name its kind
    # (without the header's name: the caller that is meant to know it, knows it).
    challenge = "ApiKey"

    def describe(self):
        return f"header ({self.header_name})"

    def judge(self, headers):
        presented = _header(headers, self.header_name)
        if presented is None:
            raise _Refusal(f"no {self.header_name} header")
        if not hmac.compare_digest(_digest(presented), self._digest):
            raise _Refusal(f"{self.header_name} header does not match")
        return f"header:{self.header_name}"


class AuthorizationTokenMode(HeaderTokenMode):
    """``header`` mode with ``AUTH_HEADER_NAME=Authorization``: the value's own scheme
    (``Bearer`` for ``Bearer s3cret``) is the challenge.

        >>> AuthorizationTokenMode("Authorization", "Bearer s3cret").challenge
        'Bearer'
    """

    def __init__(self, header_name, value):
        super().__init__(header_name, value)
        scheme, _, rest = value.strip().partition(" ")
        if rest:
            self.challenge = scheme


class BasicMode:
    """HTTP Basic auth against one username and password.

    >>> BasicMode("cx", "pw").judge({"Authorization": "Basic Y3g6cHc="})
    'basic:cx'
    """

    name = "basic"
    challenge = "Basic"

    def __init__(self, username, password):
        self.username = username
        self._username_digest = _digest(username)
        self._password_digest = _digest(password)

    def describe(self):
        return "basic"

    def judge(self, headers):
        encoded = _authorization(headers, "basic")
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise _Refusal("malformed Basic credentials (not base64)") from None
        username, colon, password = decoded.partition(b":")
        if not colon:
            raise _Refusal("malformed Basic credentials (no colon)")
        # Both comparisons always run, so the time taken does not tell which part was wrong.
        username_ok = hmac.compare_digest(_digest(username), self._username_digest)
        password_ok = hmac.compare_digest(_digest(password), self._password_digest)
        if username_ok and password_ok:
            return f"basic:{self.username}"
        if username_ok:
            raise _Refusal("basic password does not match")
        if password_ok:
            raise _Refusal("basic username does not match")
        raise _Refusal("basic username and password do not match")


class _Jwt:
    """A compact JWS split into its parts; nothing in it is trusted yet."""

    # A plain class with slots, not a dataclass: building a dataclass costs about 1 ms of
    # cold start, paid by every instance.
    __slots__ = ("header", "claims", "signed_part", "signature")

    def __init__(self, header, claims, signed_part, signature):
        self.header = header
        self.claims = claims
        self.signed_part = signed_part
        self.signature = signature


def _b64url_decode(segment):
    # Strict: only the base64url alphabet, no padding, no length that cannot be base64.
    if not _BASE64URL_RE.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _parse_jwt(token):
    """Split a compact JWS into its parts without trusting any of them yet."""
    if len(token) > MAX_TOKEN_CHARS:
        raise _Refusal("malformed token (too long)")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise _Refusal("malformed token (not three parts)")
    try:
        header_bytes, claims_bytes, signature = (_b64url_decode(part) for part in parts)
    except (ValueError, binascii.Error):
        raise _Refusal("malformed token (bad base64)") from None
    try:
        header = json.loads(header_bytes)
        claims = json.loads(claims_bytes)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: "[[[[…" nests deeper than the interpreter allows, within MAX_TOKEN_CHARS.
        raise _Refusal("malformed token (bad JSON)") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _Refusal("malformed token (header or claims not a JSON object)")
    signed_part = f"{parts[0]}.{parts[1]}".encode("ascii")
    return _Jwt(header, claims, signed_part, signature)


def _shown(value, limit=120):
    """A claim for a log line: repr'd (no line breaks can be injected) and bounded."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class IdTokenMode:
    """Google-signed ID tokens (Dialogflow's service agent auth).

    ``audiences`` is a set of accepted ``aud`` values, or ``None`` to accept any audience;
    ``allowed_emails`` the identities let in. ``keys`` supplies Google's verifiers.

        >>> mode = IdTokenMode(audiences={"https://example.net/hook"},                # doctest: +SKIP
        ...                    allowed_emails={"service-1@gcp-sa-dialogflow.iam.gserviceaccount.com"},
        ...                    keys=GoogleSigningKeys(GOOGLE_CERTS_URL))
        >>> mode.judge({"Authorization": f"Bearer {token}"})                         # doctest: +SKIP
        'service-1@gcp-sa-dialogflow.iam.gserviceaccount.com'
    """

    name = "id-token"
    challenge = "Bearer"

    def __init__(
        self, *, audiences, allowed_emails, keys, clock_skew_s=DEFAULT_CLOCK_SKEW_S, wall_clock=time.time
    ):
        self.audiences = None if audiences is None else frozenset(audiences)
        self.allowed_emails = frozenset(email.lower() for email in allowed_emails)
        self.keys = keys
        self.clock_skew_s = clock_skew_s
        self._wall_clock = wall_clock

    def describe(self):
        audiences = "any" if self.audiences is None else len(self.audiences)
        return f"id-token (audiences: {audiences}, allowed emails: {len(self.allowed_emails)})"

    def judge(self, headers):
        jwt = _parse_jwt(_authorization(headers, "bearer"))
        if jwt.header.get("alg") != "RS256":
            # Google signs ID tokens with RS256 only; anything else ("none", HS256 keyed with
            # a public certificate) is the classic algorithm-confusion forgery.
            raise _Refusal("unsupported token algorithm (only RS256)")
        kid = jwt.header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _Refusal("token has no key id")
        verifier = self.keys.verifier(kid)
        if verifier is None:
            raise _Refusal("token key id not among Google's current keys")
        if not verifier.verify(jwt.signed_part, jwt.signature):
            raise _Refusal("bad token signature")
        # From here on the claims are Google's own words, so they may be quoted in the log.
        return self._judge_claims(jwt.claims)

    def _judge_claims(self, claims):
        issuer = claims.get("iss")
        if issuer not in GOOGLE_ISSUERS:
            raise _Refusal(f"wrong token issuer {_shown(issuer)}")
        now = self._wall_clock()
        skew = self.clock_skew_s
        expires, issued = claims.get("exp"), claims.get("iat")
        if not _is_number(expires) or not _is_number(issued):
            raise _Refusal("token lacks numeric exp and iat")
        if now > expires + skew:
            raise _Refusal(f"token expired {now - expires:.0f} s ago")
        if issued - skew > now:
            raise _Refusal(f"token not yet valid (issued {issued - now:.0f} s in the future)")
        not_before = claims.get("nbf")
        if not_before is not None:
            if not _is_number(not_before):
                raise _Refusal("token nbf is not a number")
            if not_before - skew > now:
                raise _Refusal(f"token not yet valid (nbf {not_before - now:.0f} s in the future)")
        if self.audiences is not None:
            audience = claims.get("aud")
            presented = audience if isinstance(audience, list) else [audience]
            if not any(isinstance(each, str) and each in self.audiences for each in presented):
                raise _Refusal(f"token audience mismatch (token is for {_shown(audience)})")
        # The token is genuine and meant for us: whatever fails now is who it names (403).
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise _Refusal("token has no email claim", forbidden=True)
        verified = claims.get("email_verified")
        # Exactly true (or Google's older "true"): 1 == True in Python, but 1 is not true here.
        if not (verified is True or verified == "true"):
            raise _Refusal(f"token email {_shown(email)} is not verified", forbidden=True)
        if email.lower() not in self.allowed_emails:
            other_project = _SERVICE_AGENT_RE.match(email.lower())
            if other_project:
                raise _Refusal(
                    f"token is for the Dialogflow service agent of another project "
                    f"({other_project.group(1)})",
                    forbidden=True,
                )
            raise _Refusal(f"token email {_shown(email)} is not in AUTH_ALLOWED_EMAILS", forbidden=True)
        return email


# --- The authenticator ----------------------------------------------------------------------------

# Cheapest first: a static header or basic check needs no key fetch, so a request one of them
# accepts never waits on Google.
_EVALUATION_ORDER = {"header": 0, "basic": 1, "id-token": 2}


class Authenticator:
    """The configured modes, applied as "any of". Build it with ``from_env``.

    >>> auth = Authenticator.from_env({"AUTH_MODES": "header",
    ...                                "AUTH_HEADER_NAME": "X-Webhook-Token", "AUTH_HEADER_VALUE": "k"})
    >>> auth.open, auth.check({"X-Webhook-Token": "k"})
    (False, 'header:X-Webhook-Token')
    """

    def __init__(self, modes, *, realm=DEFAULT_REALM):
        self.modes = tuple(modes)  # in configured order: the order of the challenges
        self.realm = realm
        self._judges = sorted(self.modes, key=lambda mode: _EVALUATION_ORDER[mode.name])
        challenges = dict.fromkeys(mode.challenge for mode in self.modes)
        self._challenge = ", ".join(f'{scheme} realm="{realm}"' for scheme in challenges)

    @property
    def open(self):
        """True when no authentication is applied (``AUTH_MODES=none``)."""
        return not self.modes

    def describe(self):
        """One line for the start-up log; holds no secret."""
        if self.open:
            return "auth: none (AUTHENTICATION IS OFF)"
        return "auth: " + ", ".join(mode.describe() for mode in self.modes)

    def __repr__(self):
        return f"<Authenticator {self.describe()}>"

    def check(self, headers):
        """The caller's identity, or raise ``Unauthenticated`` / ``Forbidden`` / a 503.

        ``headers`` is any mapping of header names to values; names match in any case.
        """
        if self.open:
            return "none"
        refusals = []
        unavailable = None
        for mode in self._judges:
            try:
                return mode.judge(headers)
            except _Refusal as refusal:
                refusals.append((mode.name, refusal))
            except KeysUnavailable as exc:
                unavailable = exc
        forbidden = [(name, refusal) for name, refusal in refusals if refusal.forbidden]
        if forbidden:
            raise self._refuse(errors.Forbidden, forbidden, FORBIDDEN_MESSAGE)
        if unavailable is not None:
            # Not 401: the caller's credential may be perfectly good, and a 401 would send
            # Dialogflow down webhook.error.rejected ("not permitted") and make operators hunt
            # for a bad token. Not 500: it is a known outage of a dependency, not our bug. A 503
            # becomes webhook.error.unavailable, which flows already treat as "try again later".
            log.warning("auth: cannot verify the ID token: %s", unavailable)
            err = errors.RequestError(
                UNAVAILABLE_MESSAGE, status=503, code="auth-unavailable", headers={"Retry-After": "30"}
            )
            err.reason = f"Google's signing keys unavailable: {unavailable}"
            raise err
        raise self._refuse(
            errors.Unauthenticated,
            refusals,
            UNAUTHENTICATED_MESSAGE,
            headers={"WWW-Authenticate": self._challenge},
        )

    def _refuse(self, error_class, refusals, message, headers=None):
        if len(self.modes) == 1:
            reason = refusals[0][1].reason
        else:
            reason = "; ".join(f"{name}: {refusal.reason}" for name, refusal in refusals)
        log.warning(
            "auth: refused (%d): %s",
            error_class.status,
            reason,
            extra={"auth_status": error_class.status, "auth_reason": reason},
        )
        err = error_class(message, headers=headers)
        err.reason = reason
        return err

    # -- configuration -------------------------------------------------------------------------

    @classmethod
    def from_env(cls, env=None, *, clock=time.monotonic, wall_clock=time.time, http_get=None):
        """Read the ``AUTH_*`` settings once; ``ValueError`` names whatever is wrong.

        ``clock`` (monotonic seconds) times the key cache; ``wall_clock`` (epoch seconds) is
        compared with token times. Both are parameters so tests can move time. ``http_get``
        fetches Google's keys (default ``google_keys.http_get_json``, the standard library's client);
        tests pass one that goes through ``requests`` so ``responses`` can play Google.
        """
        env = os.environ if env is None else env
        names = _mode_names(env)
        realm = (env.get("AUTH_REALM") or DEFAULT_REALM).strip()
        if not _PRINTABLE_RE.fullmatch(realm) or '"' in realm or "\\" in realm:
            raise ValueError("AUTH_REALM must be printable ASCII without quotes or backslashes")
        _warn_about_unused_settings(env, names)
        if names == ("none",):
            log.warning(OPEN_WARNING)
            return cls((), realm=realm)
        builders = {
            "id-token": lambda: _id_token_mode(env, clock, wall_clock, http_get),
            "basic": lambda: _basic_mode(env),
            "header": lambda: _header_mode(env),
        }
        return cls([builders[name]() for name in names], realm=realm)


def _mode_names(env):
    names = tuple(dict.fromkeys(name.lower() for name in csv(env.get("AUTH_MODES"))))
    if not names:
        # Fail closed where it matters: on Google Cloud an unset variable (or "," or " ")
        # must not mean "open".
        return ("id-token",) if on_google_cloud(env) else ("none",)
    unknown = [name for name in names if name not in MODES]
    if unknown:
        raise ValueError(f"AUTH_MODES: unknown mode {unknown[0]!r} (known: {', '.join(MODES)})")
    if "none" in names and len(names) > 1:
        raise ValueError(
            "AUTH_MODES: 'none' turns authentication off and cannot be combined with other modes"
        )
    return names


def _required(env, name, mode):
    value = (env.get(name) or "").strip()
    if not value:
        raise ValueError(f"AUTH_MODES includes {mode}, but {name} is not set")
    return value


def _id_token_mode(env, clock, wall_clock, http_get=None):
    audiences = csv(env.get("AUTH_AUDIENCES"))
    audience_any = flag(env, "AUTH_AUDIENCE_ANY")
    if audiences and audience_any:
        raise ValueError("AUTH_AUDIENCES and AUTH_AUDIENCE_ANY=true contradict each other: set only one")
    if not audiences and not audience_any:
        raise ValueError(
            "AUTH_MODES includes id-token (the default on Google Cloud), but AUTH_AUDIENCES is not set: "
            "set it to the webhook URL registered in Dialogflow (comma list for several), "
            "or set AUTH_AUDIENCE_ANY=true to skip the audience check"
        )
    if audience_any:
        log.warning("auth: AUTH_AUDIENCE_ANY=true: ID tokens are accepted whatever their audience")
    allowed = csv(env.get("AUTH_ALLOWED_EMAILS"))
    if not allowed:
        project_number = (
            env.get("AUTH_PROJECT_NUMBER") or env.get("GOOGLE_CLOUD_PROJECT_NUMBER") or ""
        ).strip()
        if not project_number:
            raise ValueError(
                "AUTH_MODES includes id-token, but neither AUTH_ALLOWED_EMAILS nor AUTH_PROJECT_NUMBER "
                "(or GOOGLE_CLOUD_PROJECT_NUMBER) is set: the Dialogflow service agent's email is "
                "service-<PROJECT_NUMBER>@gcp-sa-dialogflow.iam.gserviceaccount.com"
            )
        if not project_number.isdigit():
            raise ValueError(
                f"AUTH_PROJECT_NUMBER must be the numeric project number, not the project ID "
                f"(got {project_number!r})"
            )
        allowed = (DIALOGFLOW_SERVICE_AGENT.format(project_number=project_number),)
    for email in allowed:
        if "@" not in email:
            raise ValueError(f"AUTH_ALLOWED_EMAILS: {email!r} is not an email address")
    skew = number(env, "AUTH_CLOCK_SKEW_S", DEFAULT_CLOCK_SKEW_S, maximum=MAX_CLOCK_SKEW_S)
    url = (env.get("AUTH_CERTS_URL") or GOOGLE_CERTS_URL).strip()
    if not (url.startswith("https://") or re.match(r"http://(localhost|127\.0\.0\.1|\[::1\])[:/]", url)):
        raise ValueError("AUTH_CERTS_URL must be an https:// URL (plain http only on localhost)")
    return IdTokenMode(
        audiences=None if audience_any else audiences,
        allowed_emails=allowed,
        keys=GoogleSigningKeys(url, clock=clock, http_get=http_get),
        clock_skew_s=skew,
        wall_clock=wall_clock,
    )


def _basic_mode(env):
    username = _required(env, "AUTH_BASIC_USERNAME", "basic")
    password = _required(env, "AUTH_BASIC_PASSWORD", "basic")
    if ":" in username:
        raise ValueError("AUTH_BASIC_USERNAME must not contain ':' (Basic auth splits on the first colon)")
    return BasicMode(username, password)


def _header_mode(env):
    name = _required(env, "AUTH_HEADER_NAME", "header")
    value = _required(env, "AUTH_HEADER_VALUE", "header")
    if not _HEADER_NAME_RE.fullmatch(name):
        raise ValueError(f"AUTH_HEADER_NAME {name!r} is not a valid HTTP header name")
    if not _PRINTABLE_RE.fullmatch(value):
        # Said without the value: it is a secret.
        raise ValueError("AUTH_HEADER_VALUE must be printable ASCII (HTTP header values arrive as such)")
    if name.lower() == "authorization":
        return AuthorizationTokenMode(name, value)
    return HeaderTokenMode(name, value)


_MODE_SETTINGS = {
    "basic": ("AUTH_BASIC_USERNAME", "AUTH_BASIC_PASSWORD"),
    "header": ("AUTH_HEADER_NAME", "AUTH_HEADER_VALUE"),
    "id-token": ("AUTH_AUDIENCES", "AUTH_ALLOWED_EMAILS", "AUTH_AUDIENCE_ANY"),
}


def _warn_about_unused_settings(env, names):
    # A secret set for a mode that is not on usually means a typo in AUTH_MODES, and the
    # service would silently run with less (or no) protection than its operator believes.
    for mode, settings in _MODE_SETTINGS.items():
        if mode in names:
            continue
        present = [name for name in settings if (env.get(name) or "").strip()]
        if present:
            log.warning("auth: %s set but %s is not in AUTH_MODES: ignored", ", ".join(present), mode)
