"""The authenticator: who gets in, with which status, and what is (never) logged.

Google's key endpoint is played by ``responses`` serving self-made certificates (see
``tests/auth_keys.py``); time is moved with injected clocks, never slept through.
"""

import json
import logging
import subprocess
import sys
import threading
import time

import pytest
import requests
import responses
from werkzeug.datastructures import Headers

from fulfillment import auth as auth_module
from fulfillment.auth import OPEN_WARNING, Authenticator
from fulfillment.deadline import Deadline
from fulfillment.errors import Forbidden, RequestError, Unauthenticated
from tests.auth_keys import (
    AUDIENCE,
    CERTS_URL,
    OTHER_PROJECT_AGENT,
    PROJECT_NUMBER,
    SERVICE_AGENT,
    basic,
    bearer,
    certs_document,
    ec_certificate_pem,
    forge,
    mint,
    signing_key,
)
from tests.auth_keys import claims as make_claims

# Token times are checked against this fixed wall clock, so cases near the skew boundary do
# not depend on how long the suite takes.
WALL = int(time.time())
SKEW = 10

ID_TOKEN_ENV = {
    "AUTH_MODES": "id-token",
    "AUTH_AUDIENCES": AUDIENCE,
    "AUTH_PROJECT_NUMBER": PROJECT_NUMBER,
    "AUTH_CERTS_URL": CERTS_URL,
}
BASIC_ENV = {
    "AUTH_MODES": "basic",
    "AUTH_BASIC_USERNAME": "dialogflow",
    "AUTH_BASIC_PASSWORD": "pa55:word-0001",
}
HEADER_ENV = {
    "AUTH_MODES": "header",
    "AUTH_HEADER_NAME": "X-Webhook-Token",
    "AUTH_HEADER_VALUE": "tok-7f3a9c2e5b1d",
}
CHALLENGE = {
    "id-token": 'Bearer realm="cx-webhook"',
    "basic": 'Basic realm="cx-webhook"',
    "header": 'ApiKey realm="cx-webhook"',
}


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start=1000.0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def token(key=None, **overrides):
    """A token minted at ``WALL`` (the authenticator's wall clock in these tests)."""
    return mint(key or signing_key("k1"), now=WALL, **overrides)


def requests_get(url, timeout):
    """Fetch the keys through requests, so that ``responses`` can play Google's endpoint.

    (The service fetches with the standard library, ``http_get_json``, to keep requests off
    its cold start; tests/test_service_auth.py covers that path against a real server.)
    """
    import requests

    from fulfillment.google_keys import KeysUnavailable

    try:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise KeysUnavailable(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return response.status_code, response.headers, response.content


def build(env, clock=None, wall=WALL):
    return Authenticator.from_env(
        env, clock=clock or FakeClock(), wall_clock=lambda: wall, http_get=requests_get
    )


class CertsEndpoint:
    """Google's certs endpoint, as ``responses`` plays it: counts calls, can fail or stall."""

    def __init__(self, mock):
        self.documents = certs_document(signing_key("k1"), signing_key("k2"))
        self.headers = {"Cache-Control": "public, max-age=3600, must-revalidate, no-transform"}
        self.status = 200
        self.body = None  # raw body instead of the JSON document
        self.error = None  # an exception to raise instead of answering
        self.delay_s = 0.0
        self.gate = None  # a threading.Event the response waits for
        self.entered = threading.Event()
        self.calls = 0
        self.timeouts = []
        mock.add_callback(responses.GET, CERTS_URL, callback=self._answer)

    def publish(self, *keys):
        self.documents = certs_document(*keys)

    def _answer(self, request):
        self.calls += 1
        self.timeouts.append(request.req_kwargs.get("timeout"))
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        body = self.body if self.body is not None else json.dumps(self.documents)
        return self.status, dict(self.headers), body


@pytest.fixture
def google():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield CertsEndpoint(mock)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def id_auth(google, clock):
    return build(ID_TOKEN_ENV, clock)


@pytest.fixture
def auth_log(caplog):
    caplog.set_level(logging.DEBUG, logger="fulfillment.auth")
    return caplog


def refusal(authenticator, headers, status):
    """The error ``check`` raises, after the checks every refusal must pass."""
    with pytest.raises(RequestError) as caught:
        authenticator.check(headers)
    err = caught.value
    assert err.status == status, err.reason
    if status == 401:
        assert isinstance(err, Unauthenticated)
        assert err.message == "missing or invalid credentials"
        assert err.headers["WWW-Authenticate"]
    elif status == 403:
        assert isinstance(err, Forbidden)
        assert err.message == "these credentials are not allowed to call this webhook"
        assert "WWW-Authenticate" not in err.headers
    assert err.reason
    return err


# --- id-token: what is refused ---------------------------------------------------------------

_HS256_CONFUSION = "hs256"  # built lazily: needs the certificate as the HMAC key


def _hs256_confusion_token():
    import hashlib
    import hmac

    from tests.auth_keys import b64url

    header = b64url({"alg": "HS256", "typ": "JWT", "kid": "k1"})
    payload = b64url(make_claims(WALL))
    signing_input = f"{header}.{payload}".encode()
    secret = signing_key("k1").certificate_pem.encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def _tampered_token():
    # A genuine token whose payload was swapped for another identity, signature kept.
    genuine = token().split(".")
    from tests.auth_keys import b64url

    genuine[1] = b64url(make_claims(WALL, email="attacker@example.com"))
    return ".".join(genuine)


ID_TOKEN_REFUSALS = [
    # (case, headers factory, status, reason fragment)
    ("missing header", lambda: {}, 401, "no Authorization header"),
    ("empty header", lambda: {"Authorization": "  "}, 401, "no Authorization header"),
    ("wrong scheme", lambda: {"Authorization": "Basic ZGY6cHc="}, 401, "scheme is not Bearer"),
    ("scheme only", lambda: {"Authorization": "Bearer"}, 401, "not three parts"),
    ("two parts", lambda: bearer("eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ"), 401, "not three parts"),
    ("four parts", lambda: bearer(token() + ".extra"), 401, "not three parts"),
    ("empty part", lambda: bearer("eyJhbGciOiJSUzI1NiJ9..c2ln"), 401, "not three parts"),
    ("bad base64 alphabet", lambda: bearer("eyJh*GciOi.eyJhIjoxfQ.c2ln"), 401, "bad base64"),
    ("bad base64 length", lambda: bearer("eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQabc.c2ln"), 401, "bad base64"),
    ("padded base64", lambda: bearer("eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ==.c2ln"), 401, "bad base64"),
    ("bad JSON", lambda: bearer("eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln"), 401, "bad JSON"),
    ("JSON not an object", lambda: bearer("WzFd.eyJhIjoxfQ.c2ln"), 401, "not a JSON object"),
    # 3000 "[" fit in a token and nest deeper than json's recursion limit: once a 500.
    ("JSON nested too deeply", lambda: bearer(f"{'W1tb' * 1000}.eyJhIjoxfQ.c2ln"), 401, "bad JSON"),
    ("too long", lambda: bearer("a" * 9000 + ".b.c"), 401, "too long"),
    (
        "alg none",
        lambda: bearer(forge({"alg": "none", "kid": "k1"}, make_claims(WALL), b"")),
        401,
        "not three",
    ),
    ("alg none signed", lambda: bearer(forge({"alg": "none", "kid": "k1"}, make_claims(WALL))), 401, "RS256"),
    ("alg HS256 keyed with the certificate", lambda: bearer(_hs256_confusion_token()), 401, "RS256"),
    ("no kid", lambda: bearer(forge({"alg": "RS256"}, make_claims(WALL))), 401, "no key id"),
    (
        "signed by another key",
        lambda: bearer(token(signing_key("rogue"), kid="k1")),
        401,
        "bad token signature",
    ),
    ("payload tampered", lambda: bearer(_tampered_token()), 401, "bad token signature"),
    (
        "garbage signature",
        lambda: bearer(forge({"alg": "RS256", "kid": "k1"}, make_claims(WALL))),
        401,
        "signature",
    ),
    ("kid not found", lambda: bearer(token(signing_key("k9"))), 401, "key id not among"),
    ("expired", lambda: bearer(token(iat=WALL - 7200, exp=WALL - 3600)), 401, "token expired"),
    (
        "expired beyond skew",
        lambda: bearer(token(iat=WALL - 3600, exp=WALL - SKEW - 2)),
        401,
        "token expired",
    ),
    ("issued in the future", lambda: bearer(token(iat=WALL + SKEW + 5)), 401, "not yet valid (issued"),
    ("nbf in the future", lambda: bearer(token(nbf=WALL + SKEW + 5)), 401, "not yet valid (nbf"),
    ("nbf not a number", lambda: bearer(token(nbf="soon")), 401, "nbf is not a number"),
    ("no exp", lambda: bearer(token(exp=None)), 401, "lacks numeric exp"),
    ("exp as text", lambda: bearer(token(exp=str(WALL + 60))), 401, "lacks numeric exp"),
    ("wrong issuer", lambda: bearer(token(iss="https://evil.example.com")), 401, "wrong token issuer"),
    ("no issuer", lambda: bearer(token(iss=None)), 401, "wrong token issuer"),
    ("wrong audience", lambda: bearer(token(aud="https://other.example.com/hook")), 401, "audience mismatch"),
    (
        "audience list without ours",
        lambda: bearer(token(aud=["https://a.example", "x"])),
        401,
        "audience mismatch",
    ),
    ("no audience", lambda: bearer(token(aud=None)), 401, "audience mismatch"),
    ("email unverified", lambda: bearer(token(email_verified=False)), 403, "is not verified"),
    ("email_verified missing", lambda: bearer(token(email_verified=None)), 403, "is not verified"),
    ("email_verified as 1", lambda: bearer(token(email_verified=1)), 403, "is not verified"),
    ("email_verified as 1.0", lambda: bearer(token(email_verified=1.0)), 403, "is not verified"),
    ("email_verified as TRUE", lambda: bearer(token(email_verified="TRUE")), 403, "is not verified"),
    ("no email", lambda: bearer(token(email=None)), 403, "no email claim"),
    (
        "email not allowed",
        lambda: bearer(token(email="someone@example.com")),
        403,
        "not in AUTH_ALLOWED_EMAILS",
    ),
    (
        "another project's service agent",
        lambda: bearer(token(email=OTHER_PROJECT_AGENT)),
        403,
        "another project",
    ),
    ("two Authorization headers", lambda: Headers([("Authorization", f"Bearer {token()}")] * 2), 401, "2 "),
]


@pytest.mark.parametrize(
    ("make_headers", "status", "reason"),
    [case[1:] for case in ID_TOKEN_REFUSALS],
    ids=[case[0] for case in ID_TOKEN_REFUSALS],
)
def test_id_token_refused(id_auth, auth_log, make_headers, status, reason):
    headers = make_headers()
    err = refusal(id_auth, headers, status)
    assert reason in err.reason
    if status == 401:
        assert err.headers["WWW-Authenticate"] == CHALLENGE["id-token"]
    # The reason reaches the log, the credential does not.
    logged = [r for r in auth_log.records if r.name == "fulfillment.auth" and r.levelno == logging.WARNING]
    assert any(reason in r.getMessage() for r in logged)
    _assert_no_credential_leaks(headers, err, auth_log.text)


def _assert_no_credential_leaks(headers, err, log_text):
    items = headers.items() if hasattr(headers, "items") else headers
    for _name, value in items:
        credential = value.split(" ", 1)[-1].strip()
        pieces = [credential, *credential.split(".")] if credential else []
        for piece in pieces:
            if len(piece) < 12:  # too short to be a credential ("c2ln", a JSON header of 3 bytes)
                continue
            assert piece not in log_text
            assert piece not in err.message
            assert piece not in err.reason
            assert piece not in json.dumps(err.body())


# --- id-token: what is accepted ----------------------------------------------------------------

ID_TOKEN_ACCEPTED = [
    ("Dialogflow's service agent", {}),
    ("issuer without scheme", {"iss": "accounts.google.com"}),
    ("expired within the skew", {"iat": WALL - 3600, "exp": WALL - SKEW + 2}),
    ("issued within the skew", {"iat": WALL + SKEW - 2}),
    ("nbf within the skew", {"nbf": WALL + SKEW - 2}),
    ("audience in a list", {"aud": ["https://a.example", AUDIENCE]}),
    ("email_verified as text", {"email_verified": "true"}),
    ("email in other case", {"email": SERVICE_AGENT.upper()}),
]


@pytest.mark.parametrize(
    "overrides", [c[1] for c in ID_TOKEN_ACCEPTED], ids=[c[0] for c in ID_TOKEN_ACCEPTED]
)
def test_id_token_accepted(id_auth, overrides):
    identity = id_auth.check(bearer(token(**overrides)))
    assert identity.lower() == SERVICE_AGENT


def test_id_token_read_from_werkzeug_headers_in_any_case(id_auth):
    assert id_auth.check(Headers([("authorization", f"bearer {token()}")])) == SERVICE_AGENT
    assert id_auth.check({"AUTHORIZATION": f"Bearer   {token()}  "}) == SERVICE_AGENT


def test_a_key_rotated_in_by_google_is_picked_up(id_auth, google, clock):
    assert id_auth.check(bearer(token())) == SERVICE_AGENT
    google.publish(signing_key("k2"), signing_key("k3"))
    clock.advance(31)
    assert id_auth.check(bearer(token(signing_key("k3")))) == SERVICE_AGENT
    assert google.calls == 2


def test_several_audiences_and_custom_allowlist(google):
    env = {
        **ID_TOKEN_ENV,
        "AUTH_AUDIENCES": f"https://a.example/hook, {AUDIENCE}",
        "AUTH_ALLOWED_EMAILS": f"ci-bot@demo.iam.gserviceaccount.com, {SERVICE_AGENT}",
    }
    authenticator = build(env)
    assert authenticator.check(bearer(token(aud="https://a.example/hook"))) == SERVICE_AGENT
    bot = "ci-bot@demo.iam.gserviceaccount.com"
    assert authenticator.check(bearer(token(email=bot))) == bot
    assert authenticator.describe() == "auth: id-token (audiences: 2, allowed emails: 2)"


def test_audience_any_skips_only_the_audience_check(google, auth_log):
    authenticator = build({**ID_TOKEN_ENV, "AUTH_AUDIENCES": "", "AUTH_AUDIENCE_ANY": "true"})
    assert "ID tokens are accepted whatever their audience" in auth_log.text
    assert authenticator.check(bearer(token(aud="https://anything.example"))) == SERVICE_AGENT
    refusal(authenticator, bearer(token(aud="https://anything.example", iss="https://evil")), 401)
    assert authenticator.describe() == "auth: id-token (audiences: any, allowed emails: 1)"


def test_project_number_from_google_cloud_project_number(google):
    env = {k: v for k, v in ID_TOKEN_ENV.items() if k != "AUTH_PROJECT_NUMBER"}
    authenticator = build({**env, "GOOGLE_CLOUD_PROJECT_NUMBER": PROJECT_NUMBER})
    assert authenticator.check(bearer(token())) == SERVICE_AGENT


@pytest.mark.parametrize(
    ("case", "overrides"),
    [
        ("valid", {}),
        ("expired", {"iat": -7200, "exp": -3600}),
        ("issued in the future", {"iat": 600}),
        ("wrong audience", {"aud": "https://other.example"}),
    ],
)
def test_agrees_with_google_auth_jwt_decode(google, case, overrides):
    """Our google-auth primitives accept exactly what ``google.auth.jwt.decode`` accepts."""
    from google.auth import exceptions, jwt

    now = int(time.time())
    relative = {name: now + value if name in ("iat", "exp") else value for name, value in overrides.items()}
    for key, kid in ((signing_key("k1"), "k1"), (signing_key("rogue"), "k1")):
        minted = mint(key, kid=kid, now=now, **relative)
        try:
            jwt.decode(minted, certs=google.documents, audience=AUDIENCE, clock_skew_in_seconds=SKEW)
            library_accepts = True
        except (exceptions.GoogleAuthError, ValueError):
            library_accepts = False
        authenticator = Authenticator.from_env(ID_TOKEN_ENV, wall_clock=time.time, http_get=requests_get)
        try:
            authenticator.check(bearer(minted))
            we_accept = True
        except RequestError:
            we_accept = False
        assert we_accept == library_accepts, (case, key.kid)


# --- Google's keys: fetching and caching ---------------------------------------------------------


def test_keys_fetched_once_for_many_requests(id_auth, google, clock):
    for _ in range(25):
        assert id_auth.check(bearer(token())) == SERVICE_AGENT
        clock.advance(60)
    assert google.calls == 1


def test_verifiers_built_once_per_fetch_not_per_request(id_auth, google, monkeypatch):
    from cryptography import x509

    parsed = []
    real_load = x509.load_pem_x509_certificate
    monkeypatch.setattr(x509, "load_pem_x509_certificate", lambda data: parsed.append(1) or real_load(data))
    for _ in range(10):
        id_auth.check(bearer(token()))
    assert len(parsed) == len(google.documents) == 2


@pytest.mark.parametrize(
    ("cache_control", "age", "fresh_for"),
    [
        ("public, max-age=600, must-revalidate, no-transform", None, 600),
        (None, None, 3600),  # no Cache-Control: one hour
        ("public, max-age=600", "500", 100),  # a cache in between already held it 500 s
        ("no-store", None, 30),  # never one fetch per request: at least 30 s
        ("max-age=999999999", None, 86400),  # never pinned beyond a day
    ],
)
def test_keys_refetched_when_max_age_expires(google, clock, cache_control, age, fresh_for):
    google.headers = {}
    if cache_control:
        google.headers["Cache-Control"] = cache_control
    if age:
        google.headers["Age"] = age
    authenticator = build(ID_TOKEN_ENV, clock)
    authenticator.check(bearer(token()))
    clock.advance(fresh_for - 1)
    authenticator.check(bearer(token()))
    assert google.calls == 1
    clock.advance(2)
    authenticator.check(bearer(token()))
    assert google.calls == 2


def test_unknown_kid_forces_one_refresh_then_is_rate_limited(id_auth, google, clock):
    id_auth.check(bearer(token()))
    assert google.calls == 1
    # Within 30 s of the last fetch an unknown kid gets no fetch: the keys are that fresh.
    clock.advance(10)
    refusal(id_auth, bearer(token(signing_key("k9"))), 401)
    assert google.calls == 1
    clock.advance(21)
    err = refusal(id_auth, bearer(token(signing_key("k9"))), 401)
    assert "key id not among" in err.reason
    assert google.calls == 2  # the one refresh
    for kid in ("k9", "made-up-1", "made-up-2"):
        clock.advance(5)
        refusal(id_auth, bearer(token(signing_key("k1"), kid=kid)), 401)
    assert google.calls == 2  # garbage kids cannot make us hammer Google
    clock.advance(30)
    refusal(id_auth, bearer(token(signing_key("k9"))), 401)
    assert google.calls == 3
    assert id_auth.check(bearer(token())) == SERVICE_AGENT
    assert google.calls == 3


def test_first_request_with_unknown_kid_fetches_once(id_auth, google):
    refusal(id_auth, bearer(token(signing_key("k9"))), 401)
    assert google.calls == 1


def test_concurrent_first_requests_share_one_fetch(id_auth, google):
    google.delay_s = 0.3  # long enough that all eight are waiting on the same fetch
    start = threading.Barrier(8)
    results = []

    def call():
        start.wait()
        try:
            results.append(id_auth.check(bearer(token())))
        except Exception as exc:  # collected, not lost in the thread
            results.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [SERVICE_AGENT] * 8
    assert google.calls == 1


def test_stale_keys_serve_while_another_request_refreshes(id_auth, google, clock):
    id_auth.check(bearer(token()))
    clock.advance(3601)
    google.gate = threading.Event()
    google.entered.clear()
    refresher = threading.Thread(target=id_auth.check, args=(bearer(token()),))
    refresher.start()
    assert google.entered.wait(5)
    started = time.monotonic()
    assert id_auth.check(bearer(token())) == SERVICE_AGENT  # did not wait for the fetch
    assert time.monotonic() - started < 1.0
    google.gate.set()
    refresher.join(5)
    assert google.calls == 2


@pytest.mark.parametrize(
    ("failure", "detail"),
    [
        ({"status": 500}, "HTTP 500"),
        ({"error": requests.ConnectionError("connection refused")}, "ConnectionError"),
        ({"error": requests.Timeout("read timed out")}, "Timeout"),
        ({"body": "<html>oops</html>"}, "not JSON"),
        ({"body": "[1, 2]"}, "not a JSON object"),
        ({"body": "[" * 100_000}, "not JSON"),
        ({"body": json.dumps({"k1": "not a certificate", "k2": 42})}, "no usable RSA certificate"),
        ({"body": json.dumps({"ec": ec_certificate_pem()})}, "no usable RSA certificate"),
    ],
    ids=[
        "http-500",
        "connection-refused",
        "timeout",
        "html",
        "json-list",
        "json-too-deep",
        "garbage-certs",
        "ec-cert",
    ],
)
def test_no_keys_at_all_is_503_auth_unavailable(id_auth, google, auth_log, failure, detail):
    for name, value in failure.items():
        setattr(google, name, value)
    err = refusal(id_auth, bearer(token()), 503)
    assert err.code == "auth-unavailable"
    assert err.headers == {"Retry-After": "30"}
    assert detail in err.reason
    assert detail not in err.message  # the caller learns nothing about our dependencies
    assert "Google's signing keys" in auth_log.text
    # The next request tries again: an outage with nothing cached is not remembered.
    google.status, google.error, google.body = 200, None, None
    assert id_auth.check(bearer(token())) == SERVICE_AGENT
    assert google.calls == 2


def test_unusable_certificate_is_skipped_and_the_rest_serve(google, auth_log):
    google.documents = {**certs_document(signing_key("k1")), "ec": ec_certificate_pem(), "junk": "x"}
    assert build(ID_TOKEN_ENV).check(bearer(token())) == SERVICE_AGENT
    assert "skipping unusable certificate 'ec'" in auth_log.text


def test_failed_refresh_keeps_the_old_keys_and_retries_after_30_s(id_auth, google, clock, auth_log):
    id_auth.check(bearer(token()))
    google.status = 503
    clock.advance(3601)
    assert id_auth.check(bearer(token())) == SERVICE_AGENT
    assert google.calls == 2
    assert "keeping the previous keys" in auth_log.text
    clock.advance(29)
    assert id_auth.check(bearer(token())) == SERVICE_AGENT
    assert google.calls == 2
    clock.advance(2)
    google.status = 200
    assert id_auth.check(bearer(token())) == SERVICE_AGENT
    assert google.calls == 3


def test_fetch_timeout_is_bounded_by_the_webhook_deadline(google):
    with Deadline(1.2):
        build(ID_TOKEN_ENV).check(bearer(token()))
    build(ID_TOKEN_ENV).check(bearer(token()))
    assert 0 < google.timeouts[0] <= 1.2
    assert google.timeouts[1] == 3.0


def test_no_time_left_means_no_fetch_and_503(google):
    with Deadline(-1.0):
        err = refusal(build(ID_TOKEN_ENV), bearer(token()), 503)
    assert "no time left" in err.reason
    assert google.calls == 0


def test_malformed_tokens_never_fetch_keys(id_auth, google):
    for headers in ({}, {"Authorization": "Bearer a.b"}, bearer(forge({"alg": "none"}, {}))):
        refusal(id_auth, headers, 401)
    assert google.calls == 0


# --- basic ---------------------------------------------------------------------------------------


def test_basic_accepts_the_configured_pair():
    authenticator = build(BASIC_ENV)
    # The password holds a colon: only the first one separates the username.
    assert authenticator.check(basic("dialogflow", "pa55:word-0001")) == "basic:dialogflow"
    lowercase_scheme = {"authorization": basic("dialogflow", "pa55:word-0001")["Authorization"].lower()[:6]}
    lowercase_scheme["authorization"] += basic("dialogflow", "pa55:word-0001")["Authorization"][6:]
    assert authenticator.check(lowercase_scheme) == "basic:dialogflow"


BASIC_REFUSALS = [
    ("wrong password", lambda: basic("dialogflow", "pa55:word-0002"), "basic password does not match"),
    ("wrong username", lambda: basic("dialogflw", "pa55:word-0001"), "basic username does not match"),
    ("both wrong", lambda: basic("admin", "admin"), "username and password do not match"),
    ("empty password", lambda: basic("dialogflow", ""), "basic password does not match"),
    ("missing", lambda: {}, "no Authorization header"),
    ("bearer instead", lambda: bearer("abc.def.ghi"), "scheme is not Basic"),
    ("not base64", lambda: {"Authorization": "Basic %%%not-base64%%%"}, "not base64"),
    ("no colon", lambda: {"Authorization": "Basic ZGlhbG9nZmxvdw=="}, "no colon"),
    ("scheme only", lambda: {"Authorization": "Basic"}, "no colon"),
]


@pytest.mark.parametrize(
    ("make_headers", "reason"), [c[1:] for c in BASIC_REFUSALS], ids=[c[0] for c in BASIC_REFUSALS]
)
def test_basic_refused(auth_log, make_headers, reason):
    headers = make_headers()
    err = refusal(build(BASIC_ENV), headers, 401)
    assert err.headers["WWW-Authenticate"] == CHALLENGE["basic"]
    assert reason in err.reason
    assert "pa55:word-0001" not in auth_log.text
    _assert_no_credential_leaks(headers, err, auth_log.text)


def test_basic_compares_username_and_password_even_when_the_username_is_wrong(monkeypatch):
    compared = []
    real_compare = auth_module.hmac.compare_digest

    class CountingHmac:
        @staticmethod
        def compare_digest(a, b):
            compared.append(len(a))
            return real_compare(a, b)

    authenticator = build(BASIC_ENV)
    monkeypatch.setattr(auth_module, "hmac", CountingHmac)
    refusal(authenticator, basic("x", "pa55:word-0001"), 401)
    # Both compared, as fixed-size digests: the time taken tells neither which part nor its length.
    assert compared == [32, 32]


# --- header ----------------------------------------------------------------------------------------


def test_header_token_accepted_in_any_header_case():
    authenticator = build(HEADER_ENV)
    assert authenticator.check({"x-webhook-token": "tok-7f3a9c2e5b1d"}) == "header:X-Webhook-Token"
    assert authenticator.check(Headers({"X-WEBHOOK-TOKEN": " tok-7f3a9c2e5b1d "})) == "header:X-Webhook-Token"


HEADER_REFUSALS = [
    ("wrong token", lambda: {"X-Webhook-Token": "tok-7f3a9c2e5b1e"}, "does not match"),
    ("different length", lambda: {"X-Webhook-Token": "tok-7f3a9c2e5b1d-and-more"}, "does not match"),
    ("prefix only", lambda: {"X-Webhook-Token": "tok-7f3a"}, "does not match"),
    ("missing", lambda: {"Authorization": "Bearer tok-7f3a9c2e5b1d"}, "no X-Webhook-Token header"),
    ("empty", lambda: {"X-Webhook-Token": ""}, "no X-Webhook-Token header"),
    (
        "sent twice",
        lambda: Headers([("X-Webhook-Token", "tok-7f3a9c2e5b1d"), ("X-Webhook-Token", "x")]),
        "2 X-Webhook-Token headers",
    ),
]


@pytest.mark.parametrize(
    ("make_headers", "reason"), [c[1:] for c in HEADER_REFUSALS], ids=[c[0] for c in HEADER_REFUSALS]
)
def test_header_token_refused(auth_log, make_headers, reason):
    headers = make_headers()
    err = refusal(build(HEADER_ENV), headers, 401)
    assert err.headers["WWW-Authenticate"] == CHALLENGE["header"]
    assert reason in err.reason
    assert "tok-7f3a9c2e5b1d" not in auth_log.text
    assert "tok-7f3a9c2e5b1d" not in err.reason


def test_header_token_in_authorization_challenges_with_its_scheme():
    authenticator = build(
        {**HEADER_ENV, "AUTH_HEADER_NAME": "Authorization", "AUTH_HEADER_VALUE": "Bearer s3cret"}
    )
    assert authenticator.check({"authorization": "Bearer s3cret"}) == "header:Authorization"
    err = refusal(authenticator, {"Authorization": "Bearer s3cre7"}, 401)
    assert err.headers["WWW-Authenticate"] == 'Bearer realm="cx-webhook"'


# --- combined modes ------------------------------------------------------------------------------

COMBINED_ENV = {**ID_TOKEN_ENV, **BASIC_ENV, **HEADER_ENV, "AUTH_MODES": "id-token, basic, header"}


def test_combined_modes_accept_any_one_of_them(google):
    authenticator = build(COMBINED_ENV)
    assert authenticator.check(basic("dialogflow", "pa55:word-0001")) == "basic:dialogflow"
    assert authenticator.check({"X-Webhook-Token": "tok-7f3a9c2e5b1d"}) == "header:X-Webhook-Token"
    assert google.calls == 0  # the cheap modes never wait on Google
    assert authenticator.check(bearer(token())) == SERVICE_AGENT
    assert authenticator.describe() == (
        "auth: id-token (audiences: 1, allowed emails: 1), basic, header (X-Webhook-Token)"
    )


def test_combined_modes_401_names_every_scheme_and_every_reason(google, auth_log):
    err = refusal(build(COMBINED_ENV), basic("dialogflow", "nope"), 401)
    assert err.headers["WWW-Authenticate"] == ", ".join(CHALLENGE.values())
    assert "basic: basic password does not match" in err.reason
    assert "id-token: Authorization scheme is not Bearer" in err.reason
    assert "header: no X-Webhook-Token header" in err.reason


def test_combined_modes_forbidden_wins_over_unauthenticated(google):
    err = refusal(build(COMBINED_ENV), bearer(token(email="someone@example.com")), 403)
    assert "id-token: token email 'someone@example.com' is not in AUTH_ALLOWED_EMAILS" in err.reason


def test_combined_modes_basic_still_works_when_google_is_down(google):
    google.status = 500
    authenticator = build({**ID_TOKEN_ENV, **BASIC_ENV, "AUTH_MODES": "id-token,basic"})
    assert authenticator.check(basic("dialogflow", "pa55:word-0001")) == "basic:dialogflow"
    err = refusal(authenticator, bearer(token()), 503)
    assert err.code == "auth-unavailable"


def test_static_bearer_and_id_token_together(google):
    env = {**ID_TOKEN_ENV, "AUTH_MODES": "header,id-token", "AUTH_HEADER_NAME": "Authorization"}
    authenticator = build({**env, "AUTH_HEADER_VALUE": "Bearer s3cret-static"})
    assert authenticator.check(bearer("s3cret-static")) == "header:Authorization"
    assert google.calls == 0
    assert authenticator.check(bearer(token())) == SERVICE_AGENT
    err = refusal(authenticator, bearer("s3cret-wrong"), 401)
    assert err.headers["WWW-Authenticate"] == 'Bearer realm="cx-webhook"'  # one challenge per scheme


# --- configuration ---------------------------------------------------------------------------------


def test_unset_modes_locally_mean_open_with_a_loud_warning(auth_log):
    authenticator = Authenticator.from_env({})
    assert authenticator.open
    assert authenticator.check({}) == "none"
    assert authenticator.describe() == "auth: none (AUTHENTICATION IS OFF)"
    warnings = [r for r in auth_log.records if r.levelno == logging.WARNING and r.name == "fulfillment.auth"]
    assert [r.getMessage() for r in warnings] == [OPEN_WARNING]
    assert OPEN_WARNING == "AUTHENTICATION IS OFF: every caller is accepted. Local development only."


@pytest.mark.parametrize("unset", [None, "", " ", ",", " , ,"])
def test_unset_modes_on_google_cloud_mean_id_token(google, unset):
    env = {k: v for k, v in ID_TOKEN_ENV.items() if k != "AUTH_MODES"}
    if unset is not None:
        env["AUTH_MODES"] = unset  # an empty list of modes is no choice of "none"
    authenticator = Authenticator.from_env({**env, "K_SERVICE": "cx-webhook"})
    assert not authenticator.open
    assert authenticator.describe().startswith("auth: id-token")
    refusal(authenticator, {}, 401)
    with pytest.raises(ValueError, match="AUTH_AUDIENCES is not set"):
        Authenticator.from_env({"K_SERVICE": "cx-webhook"})


def test_explicit_none_is_open_even_on_google_cloud(auth_log):
    assert Authenticator.from_env({"AUTH_MODES": "none", "K_SERVICE": "cx-webhook"}).open
    assert OPEN_WARNING in auth_log.text


MISCONFIGURATIONS = [
    ({"AUTH_MODES": "id-token,oauth"}, "unknown mode 'oauth'"),
    (
        {"AUTH_MODES": "none,basic", **{k: v for k, v in BASIC_ENV.items() if k != "AUTH_MODES"}},
        "cannot be combined",
    ),
    ({**ID_TOKEN_ENV, "AUTH_AUDIENCES": ""}, "AUTH_AUDIENCES is not set"),
    ({**ID_TOKEN_ENV, "AUTH_AUDIENCE_ANY": "true"}, "contradict"),
    ({**ID_TOKEN_ENV, "AUTH_AUDIENCE_ANY": "maybe"}, "AUTH_AUDIENCE_ANY must be true or false"),
    ({**ID_TOKEN_ENV, "AUTH_PROJECT_NUMBER": ""}, "neither AUTH_ALLOWED_EMAILS nor AUTH_PROJECT_NUMBER"),
    ({**ID_TOKEN_ENV, "AUTH_PROJECT_NUMBER": "demo-project"}, "numeric project number, not the project ID"),
    ({**ID_TOKEN_ENV, "AUTH_ALLOWED_EMAILS": "dialogflow"}, "is not an email address"),
    ({**ID_TOKEN_ENV, "AUTH_CLOCK_SKEW_S": "ten"}, "AUTH_CLOCK_SKEW_S must be a number"),
    ({**ID_TOKEN_ENV, "AUTH_CLOCK_SKEW_S": "-1"}, "between 0 and 300"),
    ({**ID_TOKEN_ENV, "AUTH_CLOCK_SKEW_S": "3600"}, "between 0 and 300"),
    ({**ID_TOKEN_ENV, "AUTH_CERTS_URL": "http://certs.example/v1"}, "must be an https:// URL"),
    ({**BASIC_ENV, "AUTH_BASIC_PASSWORD": ""}, "AUTH_BASIC_PASSWORD is not set"),
    ({**BASIC_ENV, "AUTH_BASIC_USERNAME": " "}, "AUTH_BASIC_USERNAME is not set"),
    ({**BASIC_ENV, "AUTH_BASIC_USERNAME": "dialog:flow"}, "must not contain ':'"),
    ({**HEADER_ENV, "AUTH_HEADER_VALUE": ""}, "AUTH_HEADER_VALUE is not set"),
    ({**HEADER_ENV, "AUTH_HEADER_NAME": ""}, "AUTH_HEADER_NAME is not set"),
    ({**HEADER_ENV, "AUTH_HEADER_NAME": "X Webhook Token"}, "not a valid HTTP header name"),
    ({**HEADER_ENV, "AUTH_HEADER_VALUE": "tök-secret-ünicode"}, "must be printable ASCII"),
    ({**HEADER_ENV, "AUTH_REALM": 'cx"webhook'}, "AUTH_REALM"),
]


@pytest.mark.parametrize(("env", "message"), MISCONFIGURATIONS, ids=[m[1][:40] for m in MISCONFIGURATIONS])
def test_misconfiguration_refuses_to_start(env, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as caught:
        Authenticator.from_env(env)
    for secret in ("tök-secret-ünicode", "pa55:word-0001", "tok-7f3a9c2e5b1d"):
        assert secret not in str(caught.value)


def test_plain_http_certs_url_allowed_on_localhost():
    Authenticator.from_env({**ID_TOKEN_ENV, "AUTH_CERTS_URL": "http://127.0.0.1:8081/certs"})


def test_settings_for_a_mode_that_is_off_are_warned_about(auth_log):
    Authenticator.from_env({**HEADER_ENV, "AUTH_BASIC_PASSWORD": "pa55:word-0001"})
    assert "AUTH_BASIC_PASSWORD set but basic is not in AUTH_MODES: ignored" in auth_log.text
    assert "pa55:word-0001" not in auth_log.text


def test_describe_and_repr_hold_no_secret():
    authenticator = build(COMBINED_ENV)
    for text in (authenticator.describe(), repr(authenticator), repr(vars(authenticator))):
        for secret in ("pa55:word-0001", "tok-7f3a9c2e5b1d"):
            assert secret not in text
    for mode in authenticator.modes:
        for value in vars(mode).values() if hasattr(mode, "__dict__") else ():
            assert value not in ("pa55:word-0001", "tok-7f3a9c2e5b1d")


# --- cold start ----------------------------------------------------------------------------------


def test_import_and_configuration_do_not_load_google_auth_requests_or_cryptography():
    script = f"""
import sys
from fulfillment.auth import Authenticator
Authenticator.from_env({COMBINED_ENV!r})
heavy = ("google.auth", "google.oauth2", "requests", "urllib3", "cryptography")
def loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in heavy or m.startswith(heavy))
print(loaded())
import google.auth.crypt  # the control: proves the check would see them
print(bool(loaded()))
"""
    from tests.conftest import ROOT

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.splitlines() == ["[]", "True"], result.stdout + result.stderr
