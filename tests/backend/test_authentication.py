"""Authentication and configuration (mostly mocked with ``responses``): API keys, bearer
tokens and ID tokens sent and never shown, bad settings made ``Unavailable`` and named at
start, credentials over plain http warned of."""

import base64
import json
import logging
import threading
import time
import types
from urllib.parse import urlsplit

import pytest

from fulfillment import backend as backend_module
from fulfillment.backend import Client, backend
from fulfillment.deadline import Deadline
from fulfillment.errors import Unavailable
from tests.backend.kit import STORE, TOLERANCE_S, _never_connected, store
from tests.fault_server import Reply


def test_api_key_is_sent_in_its_header(mocked, monkeypatch):
    monkeypatch.setenv("BACKEND_WEATHER_URL", "http://weather.test/")
    monkeypatch.setenv("BACKEND_WEATHER_AUTH", "api-key")
    monkeypatch.setenv("BACKEND_WEATHER_KEY", "wk-123")
    mocked.get("http://weather.test/current", json={})

    backend("weather").get_json("/current")

    assert mocked.calls[0].request.headers["X-API-Key"] == "wk-123"


def test_api_key_header_name_is_configurable(mocked, monkeypatch):
    monkeypatch.setenv("BACKEND_LOYALTY_POINTS_URL", "http://loyalty.test")
    monkeypatch.setenv("BACKEND_LOYALTY_POINTS_AUTH", "api-key")
    monkeypatch.setenv("BACKEND_LOYALTY_POINTS_KEY", "lk-1")
    monkeypatch.setenv("BACKEND_LOYALTY_POINTS_KEY_HEADER", "X-Loyalty-Key")
    mocked.get("http://loyalty.test/points", json={})

    backend("loyalty-points").get_json("/points")

    assert mocked.calls[0].request.headers["X-Loyalty-Key"] == "lk-1"


def test_bearer_token_is_sent(mocked, monkeypatch):
    monkeypatch.setenv("BACKEND_STORE_AUTH", "bearer")
    monkeypatch.setenv("BACKEND_STORE_KEY", "tok-456")
    mocked.get(f"{STORE}/orders/ORD-1", json={})

    store().get_json("/orders/ORD-1")

    assert mocked.calls[0].request.headers["Authorization"] == "Bearer tok-456"


def test_keys_never_reach_logs_or_reprs(mocked, monkeypatch, caplog, no_backoff):
    monkeypatch.setenv("BACKEND_STORE_AUTH", "bearer")
    monkeypatch.setenv("BACKEND_STORE_KEY", "sekrit-token-789")
    mocked.get(f"{STORE}/a", status=401)
    mocked.get(f"{STORE}/b", status=500)
    mocked.get(f"{STORE}/c", body=_never_connected())

    with caplog.at_level(logging.DEBUG):
        for path in ("/a", "/b", "/c"):
            with pytest.raises(Unavailable) as caught:
                store().get_json(path)
            assert "sekrit" not in repr(caught.value) and "sekrit" not in caught.value.detail

    assert caplog.records  # the failures were logged ...
    assert "sekrit" not in caplog.text  # ... without the token
    assert "sekrit" not in repr(store().config)


def test_bad_configuration_makes_every_call_unavailable(mocked, monkeypatch, caplog):
    monkeypatch.setenv("BACKEND_STORE_AUTH", "bearer")  # but no BACKEND_STORE_KEY

    with caplog.at_level(logging.ERROR, logger="fulfillment.backend"):
        for _ in range(2):
            with pytest.raises(Unavailable):
                store().get_json("/orders/ORD-1")

    assert len(mocked.calls) == 0
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "backend 'store' cannot be called: BACKEND_STORE_AUTH=bearer needs BACKEND_STORE_KEY"
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BACKEND_STORE_AUTH", "basic"),
        ("BACKEND_STORE_URL", "store.test"),
        ("BACKEND_STORE_TIMEOUT_S", "soon"),
        ("BACKEND_STORE_TIMEOUT_S", "0"),  # not "no cap": every call would time out unsent
    ],
)
def test_invalid_settings_are_unavailable_not_a_crash(mocked, monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(Unavailable):
        store().get_json("/orders/ORD-1")


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("BACKEND_STORE_KEY", "sk_live_SECRET\nline2", "BACKEND_STORE_KEY holds a control or non-ASCII"),
        ("BACKEND_STORE_KEY", "sk_live_SECRET€", "BACKEND_STORE_KEY holds a control or non-ASCII"),
        ("BACKEND_STORE_KEY_HEADER", "X Api Key", "BACKEND_STORE_KEY_HEADER 'X Api Key' is not a header"),
        ("BACKEND_STORE_KEY_HEADER", "X-Key: SECRET", "BACKEND_STORE_KEY_HEADER 'X-Key…' is not a header"),
        ("BACKEND_STORE_KEY_HEADER", "X-Key=SECRET", "BACKEND_STORE_KEY_HEADER 'X-Key…' is not a header"),
        ("BACKEND_STORE_URL", "https://user:SECRET@store.test:99999", "BACKEND_STORE_URL is not an http(s)"),
        ("BACKEND_STORE_URL", "https://user:SECRET@store..test", "BACKEND_STORE_URL is not an http(s)"),
    ],
)
def test_a_setting_no_request_could_carry_is_refused_without_showing_it(
    mocked, monkeypatch, caplog, name, value, problem
):
    # Once, a key with a line break inside reached the request line builder, whose ValueError
    # quoted the whole header, key and all, into the handler's logged traceback.
    monkeypatch.setenv("BACKEND_STORE_AUTH", "bearer")
    monkeypatch.setenv("BACKEND_STORE_KEY", "sk_live_SECRET")
    monkeypatch.setenv(name, value)

    with caplog.at_level(logging.DEBUG), pytest.raises(Unavailable) as caught:
        store().get_json("/orders/ORD-1")

    assert len(mocked.calls) == 0
    assert problem in caplog.text
    assert "SECRET" not in caplog.text and "SECRET" not in repr(caught.value)


@pytest.mark.parametrize("auth", [None, "none", "id-token"])
def test_a_key_that_no_auth_mode_would_send_is_a_problem_named_at_start(monkeypatch, auth, caplog):
    # Set and never sent, it would fail every call with a 401 from the backend.
    monkeypatch.setenv("BACKEND_LOYALTY_URL", "https://loyalty.test")
    monkeypatch.setenv("BACKEND_LOYALTY_KEY", "lk-SECRET")
    if auth:
        monkeypatch.setenv("BACKEND_LOYALTY_AUTH", auth)

    with caplog.at_level(logging.WARNING, logger="fulfillment.backend"):
        Client().check(["loyalty"])

    assert (
        f"BACKEND_LOYALTY_KEY is set but BACKEND_LOYALTY_AUTH={auth or 'none'} never sends it" in caplog.text
    )
    assert "SECRET" not in caplog.text


@pytest.mark.parametrize(
    ("value", "demo_on"),
    [("false", False), ("NO", False), ("0", False), ("on", True), ("", True), ("nope", False)],
)
def test_demo_store_reads_any_flag_spelling_and_a_typo_as_off(monkeypatch, demo_store, value, demo_on):
    monkeypatch.setenv("DEMO_STORE", value)

    assert (not store().config.problem) is demo_on


@pytest.mark.parametrize("auth", ["none", "bearer", "id-token"])
def test_a_url_with_credentials_in_it_is_refused_without_showing_them(mocked, monkeypatch, caplog, auth):
    # In id-token mode the audience defaulted to the URL's origin, user:password and all, and
    # "could not mint an ID token for <audience>" logged it; in the others it was dropped unsaid.
    import fulfillment.client

    def no_token(session, audience):
        raise RuntimeError("no credentials here")

    monkeypatch.setattr(fulfillment.client, "_mint_id_token", no_token)
    monkeypatch.setenv("BACKEND_STORE_URL", "https://svc:SECRET@store.test")
    monkeypatch.setenv("BACKEND_STORE_AUTH", auth)
    monkeypatch.setenv("BACKEND_STORE_KEY", "sk_live_key")

    with caplog.at_level(logging.DEBUG), pytest.raises(Unavailable):
        store().get_json("/orders/ORD-1")

    assert len(mocked.calls) == 0
    assert "BACKEND_STORE_URL holds credentials" in caplog.text
    assert "SECRET" not in caplog.text


def test_a_header_value_the_transport_refuses_is_not_quoted():
    from fulfillment.transport import _request_head

    with pytest.raises(ValueError) as caught:
        _request_head("GET", "/", "store.test", {"Authorization": "Bearer SECRET\r\nX: y"}, None)
    assert "SECRET" not in str(caught.value) and "Authorization" in str(caught.value)


def test_a_bad_configuration_is_logged_at_start_once(mocked, monkeypatch, caplog):
    monkeypatch.setenv("BACKEND_STORE_AUTH", "bearer")  # but no BACKEND_STORE_KEY
    store()  # declared, as a handler module does at import

    with caplog.at_level(logging.ERROR, logger="fulfillment.backend"):
        backend_module.check_backends()
        errors_at_start = [r.getMessage() for r in caplog.records]
        with pytest.raises(Unavailable):
            store().get_json("/orders/ORD-1")

    assert errors_at_start == [
        "backend 'store' cannot be called: BACKEND_STORE_AUTH=bearer needs BACKEND_STORE_KEY"
    ]
    assert len(caplog.records) == 1  # not again at the call
    assert len(mocked.calls) == 0


def test_a_bad_shared_backend_setting_is_logged_at_start(caplog):
    client = Client(env={"BACKEND_MAX_BODY_BYTES": "lots"})

    with caplog.at_level(logging.ERROR, logger="fulfillment.backend"):
        client.check([])

    assert [r.getMessage() for r in caplog.records] == [
        "BACKEND_MAX_BODY_BYTES must be a number, got 'lots'; using 1048576"
    ]


def test_the_check_at_start_leaves_the_demo_store_to_the_first_call(monkeypatch):
    started = []

    def start_demo_store():
        started.append(1)
        return types.SimpleNamespace(url="http://127.0.0.1:1", credentials=lambda name: ("none", ""))

    monkeypatch.setattr("fulfillment.client._demo_store", start_demo_store)
    client = Client(env={})

    client.check(["store"])
    assert started == []  # a cold start does not start the demo store's server

    assert client.config("store").demo
    assert started == [1]


def test_a_demo_store_that_cannot_start_makes_its_backends_unavailable(monkeypatch, caplog):
    # A fork that deleted demo_store/ but left DEMO_STORE on and a URL unset.
    monkeypatch.setattr("fulfillment.client.DEMO_STORE_MODULE", "no_such_demo_store")
    bank = backend_module.Backend("bank", client=Client(env={}))

    with caplog.at_level(logging.ERROR, logger="fulfillment.backend"), pytest.raises(Unavailable):
        bank.get_json("/accounts/1")

    assert [r.getMessage() for r in caplog.records] == [
        "backend 'bank' cannot be called: BACKEND_BANK_URL is not set and the demo store failed: "
        "ModuleNotFoundError(\"No module named 'no_such_demo_store'\")"
    ]


def test_a_backend_without_a_url_is_a_warning_at_start_and_unavailable_at_the_call(caplog):
    # Perhaps this agent never calls it: said at start, without stopping anything.
    client = Client(env={"DEMO_STORE": "off"})

    with caplog.at_level(logging.WARNING, logger="fulfillment.backend"):
        client.check(["bank"])

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            "backend 'bank' cannot be called: BACKEND_BANK_URL is not set "
            "(DEMO_STORE=off disables the demo store)",
        )
    ]
    assert client.config("bank").problem  # its tags answer "unavailable"


def test_a_good_configuration_checked_at_start_is_the_one_calls_use(mocked):
    client = Client(env={"BACKEND_STORE_URL": STORE + "/v1/", "BACKEND_STORE_RETRIES": "0"})
    client.check(["store"])
    mocked.get(f"{STORE}/v1/orders/ORD-1", json={"id": "ORD-1"})

    assert client.config("store").base_url == STORE + "/v1"
    assert client.backend("store").get_json("/orders/ORD-1") == {"id": "ORD-1"}


def fake_jwt(exp):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part({'exp': exp, 'aud': 'x'})}.c2ln"


@pytest.fixture
def id_token_backend(monkeypatch):
    import google.oauth2.id_token

    monkeypatch.setenv("BACKEND_BOOKING_URL", "https://booking-abc.a.run.app/api/v1")
    monkeypatch.setenv("BACKEND_BOOKING_AUTH", "id-token")
    minted = []

    def fake_fetch(request, audience):
        minted.append(audience)
        time.sleep(0.05)  # long enough for concurrent callers to pile up behind the lock
        return fake_jwt(minted_exp[0])

    minted_exp = [time.time() + 3600]
    monkeypatch.setattr(google.oauth2.id_token, "fetch_id_token", fake_fetch)
    return types.SimpleNamespace(minted=minted, exp=minted_exp)


def test_id_token_is_minted_once_and_reused(mocked, id_token_backend):
    mocked.get("https://booking-abc.a.run.app/api/v1/slots", json=[])
    booking = backend("booking")

    for _ in range(3):
        booking.get_json("/slots")

    # The audience is the service URL (no path), as Cloud Run expects.
    assert id_token_backend.minted == ["https://booking-abc.a.run.app"]
    token = mocked.calls[0].request.headers["Authorization"]
    assert token.startswith("Bearer ") and token.count(".") == 2
    assert {c.request.headers["Authorization"] for c in mocked.calls} == {token}


def test_id_token_is_refreshed_shortly_before_it_expires(mocked, id_token_backend):
    mocked.get("https://booking-abc.a.run.app/api/v1/slots", json=[])
    id_token_backend.exp[0] = time.time() + 120  # inside the 5 minute margin

    backend("booking").get_json("/slots")
    backend("booking").get_json("/slots")

    assert len(id_token_backend.minted) == 2


def test_id_token_is_minted_once_under_concurrency(mocked, id_token_backend):
    mocked.get("https://booking-abc.a.run.app/api/v1/slots", json=[])
    errors = []

    def call():
        try:
            backend("booking").get_json("/slots")
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and len(mocked.calls) == 8
    assert len(id_token_backend.minted) == 1


def test_minting_an_id_token_is_bounded_by_the_deadline(real, monkeypatch):
    import google.oauth2.id_token

    monkeypatch.setenv("BACKEND_BOOKING_URL", real.url)
    monkeypatch.setenv("BACKEND_BOOKING_AUTH", "id-token")
    real.route("/metadata-hangs", Reply(hang=True))

    def fetch_from_a_hung_metadata_server(request, audience):
        # What google-auth does on Cloud Run: a GET to the metadata server, with its own
        # (long) timeout.
        request(url=real.url + "/metadata-hangs", method="GET", timeout=120)

    monkeypatch.setattr(google.oauth2.id_token, "fetch_id_token", fetch_from_a_hung_metadata_server)

    started = time.monotonic()
    with Deadline(0.4), pytest.raises(Unavailable):
        backend("booking").get_json("/slots")

    assert time.monotonic() - started <= 0.4 + TOLERANCE_S
    assert real.hits("/slots") == 0


def test_id_token_failure_is_unavailable(mocked, monkeypatch):
    import google.oauth2.id_token

    monkeypatch.setenv("BACKEND_BOOKING_URL", "https://booking-abc.a.run.app")
    monkeypatch.setenv("BACKEND_BOOKING_AUTH", "id-token")

    def no_credentials(request, audience):
        raise RuntimeError("no metadata server")

    monkeypatch.setattr(google.oauth2.id_token, "fetch_id_token", no_credentials)

    with pytest.raises(Unavailable):
        backend("booking", spoken_name="our booking system").get_json("/slots")
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(
    ("url", "auth", "warned"),
    [
        ("http://orders.internal:8080", "api-key", True),
        ("http://10.0.0.5", "bearer", True),
        ("http://orders.internal", "id-token", True),
        ("https://orders.example.com", "api-key", False),
        ("http://127.0.0.1:8081", "api-key", False),
        ("http://[::1]:8081", "bearer", False),
        ("http://localhost:8081", "api-key", False),
        ("http://orders.internal", "none", False),  # nothing to read
    ],
)
def test_credentials_over_plain_http_are_warned_of_at_start(monkeypatch, caplog, url, auth, warned):
    monkeypatch.setenv("BACKEND_STORE_URL", url)
    monkeypatch.setenv("BACKEND_STORE_AUTH", auth)
    if auth in ("api-key", "bearer"):
        monkeypatch.setenv("BACKEND_STORE_KEY", "sk_live_SECRET")
    store()

    with caplog.at_level(logging.WARNING, logger="fulfillment"):
        backend_module.check_backends()

    warnings = [r.getMessage() for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warnings) == (1 if warned else 0), caplog.text
    assert "SECRET" not in caplog.text
    if warned:
        assert "BACKEND_STORE_AUTH" in warnings[0] and urlsplit(url).hostname in warnings[0]
