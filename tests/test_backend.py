"""The backend client: taxonomy, retries, deadline, cache, auth, records; mocked and for real.

The first half mocks requests with ``responses`` (status codes and bodies are all that
matter there); the second half runs against ``FaultServer``, a real HTTP server on loopback,
because hangs, trickles and resets only happen on real sockets.
"""

import base64
import gzip
import json
import logging
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import responses
import urllib3.exceptions

from fulfillment import backend as backend_module
from fulfillment.backend import Client, backend, backend_calls, expect, field, idempotency_key, reset
from fulfillment.deadline import Deadline
from fulfillment.errors import BackendError, BadBackendData, NotFound, Rejected, Timeout, Unavailable
from tests.fault_server import FaultServer, Reply, closed_port_url

# responses replaces the send() of the transport adapter our backend session mounts.
TRANSPORT = "fulfillment.transport.PooledAdapter.send"

STORE = "http://store.test"
# How late a deadline-bounded call may return: thread wake-ups and the loopback round trip.
TOLERANCE_S = 0.2


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Each test starts with no backend configured and a fresh process-wide client."""
    import os

    for name in list(os.environ):
        if name.startswith("BACKEND_") or name == "DEMO_STORE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("BACKEND_STORE_URL", STORE)
    reset()
    yield
    reset()


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False, target=TRANSPORT) as mock:
        yield mock


@pytest.fixture
def no_backoff(monkeypatch):
    """Retries without their sleep, for tests about *whether* a call is retried."""
    monkeypatch.setattr(backend_module, "BACKOFF_BASE_S", 0.0)


def store():
    return backend("store", spoken_name="our order system")


# --- success -------------------------------------------------------------------------------


def test_get_json_returns_the_parsed_answer(mocked):
    mocked.get(f"{STORE}/orders/ORD-1", json={"id": "ORD-1", "status": "shipped"})

    assert store().get_json("/orders/ORD-1") == {"id": "ORD-1", "status": "shipped"}
    sent = mocked.calls[0].request
    assert sent.headers["Accept"] == "application/json"
    assert "Authorization" not in sent.headers


def test_get_json_sends_params_as_the_query(mocked):
    mocked.get(f"{STORE}/weather/current", json={"temp_c": 4})

    store().get_json("/weather/current", params={"city": "Oslo", "units": "metric"})

    assert mocked.calls[0].request.url == f"{STORE}/weather/current?city=Oslo&units=metric"


@pytest.mark.parametrize("status", [200, 201])
def test_post_json_sends_json_and_accepts_200_or_201(mocked, status):
    mocked.post(f"{STORE}/orders/ORD-1/returns", status=status, json={"return_id": "R-1"})

    answer = store().post_json("/orders/ORD-1/returns", {"item_id": "SKU-9", "reason": "too small – sorry"})

    assert answer == {"return_id": "R-1"}
    sent = mocked.calls[0].request
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {"item_id": "SKU-9", "reason": "too small – sorry"}
    assert "Idempotency-Key" not in sent.headers


# --- the error taxonomy --------------------------------------------------------------------


def test_404_is_not_found_with_system_and_status(mocked):
    mocked.get(f"{STORE}/orders/NOPE", status=404, json={"code": "order-not-found"})

    with pytest.raises(NotFound) as caught:
        store().get_json("/orders/NOPE")

    assert caught.value.system == "our order system"
    assert caught.value.status == 404
    assert len(mocked.calls) == 1  # a 404 is an answer: never retried


def test_422_is_rejected_keeping_the_code_but_not_the_free_text(mocked):
    mocked.post(
        f"{STORE}/orders/ORD-1/returns",
        status=422,
        json={"code": "return-window-closed", "message": "Dear Jane Doe, your window closed"},
    )

    with pytest.raises(Rejected) as caught:
        store().post_json("/orders/ORD-1/returns", {"item_id": "SKU-9"})

    err = caught.value
    assert (err.code, err.status, err.system) == ("return-window-closed", 422, "our order system")
    assert "Jane" not in err.detail and "Jane" not in err.sentence()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"error": {"code": "out-of-stock", "message": "x"}}, "out-of-stock"),  # nested shape
        ({"code": "has spaces and is long free text"}, None),  # not a code: dropped
        ({"code": 42}, None),
        (["code"], None),
    ],
)
def test_rejected_code_is_a_short_token_or_none(mocked, body, code):
    mocked.post(f"{STORE}/carts", status=409, json=body)

    with pytest.raises(Rejected) as caught:
        store().post_json("/carts", {})

    assert caught.value.code == code


@pytest.mark.parametrize("status", [401, 403])
def test_credentials_refused_are_unavailable_and_logged_as_an_error(mocked, caplog, status):
    mocked.get(f"{STORE}/orders/ORD-1", status=status, json={"code": "bad-token"})

    with caplog.at_level(logging.WARNING, logger="fulfillment.backend"), pytest.raises(Unavailable) as caught:
        store().get_json("/orders/ORD-1")

    assert caught.value.status == status and len(mocked.calls) == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "credentials" in errors[0].getMessage()
    assert "BACKEND_STORE_AUTH" in errors[0].getMessage()


def test_500_on_a_read_is_retried_and_can_succeed(mocked, no_backoff):
    mocked.get(f"{STORE}/orders/ORD-1", status=500)
    mocked.get(f"{STORE}/orders/ORD-1", json={"id": "ORD-1"})

    with backend_calls() as calls:
        assert store().get_json("/orders/ORD-1") == {"id": "ORD-1"}

    assert len(mocked.calls) == 2
    assert calls[0]["attempts"] == 2 and calls[0]["status"] == 200


def test_5xx_on_a_read_gives_up_after_the_configured_retries(mocked, monkeypatch, no_backoff):
    monkeypatch.setenv("BACKEND_STORE_RETRIES", "1")
    mocked.get(f"{STORE}/orders/ORD-1", status=502)

    with pytest.raises(Unavailable) as caught:
        store().get_json("/orders/ORD-1")

    assert type(caught.value) is Unavailable and caught.value.status == 502
    assert len(mocked.calls) == 2


def test_501_is_unavailable_and_not_retried(mocked, no_backoff):
    mocked.get(f"{STORE}/orders/ORD-1", status=501)

    with pytest.raises(Unavailable):
        store().get_json("/orders/ORD-1")

    assert len(mocked.calls) == 1


@pytest.mark.parametrize("idempotency", [None, "k" * 32])
def test_503_on_a_post_is_never_retried(mocked, no_backoff, idempotency):
    mocked.post(f"{STORE}/orders/ORD-1/returns", status=503)

    with pytest.raises(Unavailable) as caught:
        store().post_json("/orders/ORD-1/returns", {"item_id": "SKU-9"}, idempotency_key=idempotency)

    assert caught.value.status == 503
    assert len(mocked.calls) == 1


def _never_connected():
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason=refused))


@pytest.mark.parametrize(
    ("method", "reply", "acted"),
    [
        ("POST", {"status": 503}, True),  # the backend may have failed after acting
        ("POST", {"status": 202}, True),
        ("POST", {"status": 201, "body": b"{", "content_type": "application/json"}, True),
        ("POST", {"body": requests.exceptions.ReadTimeout()}, True),
        ("POST", {"status": 422, "json": {"code": "slot-taken"}}, False),  # refused: nothing done
        ("POST", {"status": 404}, False),
        ("POST", {"body": _never_connected()}, False),  # nothing left our side
        ("GET", {"status": 503}, False),  # a read acts on nothing
    ],
    ids=["post-503", "post-202", "post-unreadable-201", "post-read-timeout", "post-422", "post-404",
         "post-never-connected", "get-503"],
)  # fmt: skip
def test_a_failed_write_says_whether_the_backend_may_have_acted(mocked, no_backoff, method, reply, acted):
    mocked.add(method, f"{STORE}/orders/ORD-1/returns", **reply)
    call = (
        store().get_json if method == "GET" else lambda path: store().post_json(path, {}, idempotency_key="k")
    )

    with pytest.raises(BackendError) as caught:
        call("/orders/ORD-1/returns")

    assert caught.value.may_have_acted is acted
    assert ("confirmation" in caught.value.sentence()) is acted


def test_post_with_key_is_retried_when_the_connection_never_opened(mocked, no_backoff):
    mocked.post(f"{STORE}/orders/ORD-1/returns", body=_never_connected())
    mocked.post(f"{STORE}/orders/ORD-1/returns", status=201, json={"return_id": "R-1"})

    answer = store().post_json("/orders/ORD-1/returns", {"item_id": "SKU-9"}, idempotency_key="k" * 32)

    assert answer == {"return_id": "R-1"}
    assert len(mocked.calls) == 2
    assert {call.request.headers["Idempotency-Key"] for call in mocked.calls} == {"k" * 32}


def test_post_without_key_is_not_retried_even_when_never_connected(mocked, no_backoff):
    mocked.post(f"{STORE}/orders/ORD-1/returns", body=_never_connected())
    mocked.post(f"{STORE}/orders/ORD-1/returns", status=201, json={})

    with pytest.raises(Unavailable):
        store().post_json("/orders/ORD-1/returns", {"item_id": "SKU-9"})

    assert len(mocked.calls) == 1


def test_post_with_key_is_not_retried_when_the_request_may_have_arrived(mocked, no_backoff):
    dropped = requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted."))
    mocked.post(f"{STORE}/orders/ORD-1/returns", body=dropped)
    mocked.post(f"{STORE}/orders/ORD-1/returns", status=201, json={})

    with pytest.raises(Unavailable):
        store().post_json("/orders/ORD-1/returns", {"item_id": "SKU-9"}, idempotency_key="k" * 32)

    assert len(mocked.calls) == 1


def test_connection_error_is_unavailable(mocked, no_backoff):
    mocked.get(f"{STORE}/orders/ORD-1", body=_never_connected())

    with pytest.raises(Unavailable) as caught:
        store().get_json("/orders/ORD-1")

    assert type(caught.value) is Unavailable
    assert caught.value.status is None and caught.value.system == "our order system"
    assert len(mocked.calls) == 3  # a read: tried 1 + 2 retries


def test_read_timeout_is_timeout(mocked, no_backoff):
    mocked.get(f"{STORE}/orders/ORD-1", body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(Timeout):
        store().get_json("/orders/ORD-1")


def test_malformed_json_is_bad_backend_data(mocked):
    mocked.get(f"{STORE}/orders/ORD-1", body=b'{"id": "ORD-1",', content_type="application/json")

    with pytest.raises(BadBackendData) as caught:
        store().get_json("/orders/ORD-1")

    assert caught.value.status == 200 and caught.value.system == "our order system"


@pytest.mark.parametrize(
    "body",
    [
        b'{"balance": NaN}',
        b'{"balance": -Infinity}',
        b'{"name": "Ada \\udc80"}',  # a lone surrogate escape: UTF-8 cannot carry it
        b'{"\\ud800": 1}',
        b'{"name": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes: not UTF-8
        b'{"status": "shipped", "status": "cancelled"}',  # which one? parsers disagree
        b'[{"balance": 1, "balance": 0}]',
    ],
    ids=[
        "nan",
        "infinity",
        "lone-surrogate",
        "lone-surrogate-key",
        "encoded-surrogate",
        "duplicate-key",
        "nested-duplicate",
    ],
)
def test_what_only_python_calls_json_is_bad_backend_data(mocked, body):
    mocked.get(f"{STORE}/orders/ORD-1", body=body, content_type="application/json")

    with pytest.raises(BadBackendData):
        store().get_json("/orders/ORD-1")


def test_a_valid_surrogate_pair_is_fine(mocked):
    mocked.get(f"{STORE}/orders/ORD-1", body=b'{"name": "\\ud83d\\ude00"}', content_type="application/json")

    assert store().get_json("/orders/ORD-1") == {"name": "\U0001f600"}


def test_wrong_content_type_is_bad_backend_data(mocked):
    mocked.get(f"{STORE}/orders/ORD-1", body=b"<html>Sign in</html>", content_type="text/html")

    with pytest.raises(BadBackendData):
        store().get_json("/orders/ORD-1")


def test_json_media_type_variants_are_accepted(mocked):
    mocked.get(f"{STORE}/a", body=b"[1]", content_type="application/json; charset=utf-8")
    mocked.get(f"{STORE}/b", body=b"[2]", content_type="application/vnd.store.v2+json")

    assert store().get_json("/a") == [1]
    assert store().get_json("/b") == [2]


def test_json_of_the_wrong_type_is_bad_backend_data(mocked):
    mocked.get(f"{STORE}/orders/ORD-1", json=[{"id": "ORD-1"}])

    with pytest.raises(BadBackendData) as caught:
        store().get_json("/orders/ORD-1", expect=dict)

    assert "list" in caught.value.detail and caught.value.system == "our order system"


def test_field_checks_presence_and_type():
    order = {"status": "shipped", "count": 2, "paid": True, "price": 12, "eta": None}

    assert field(order, "status", str) == "shipped"
    assert field(order, "price", float) == 12  # a JSON number without a fraction is a float
    assert field(order, "eta", str, required=False) is None  # null
    assert field(order, "note", str, required=False) is None  # absent
    with pytest.raises(BadBackendData):
        field(order, "paid", int)  # True is not a count
    with pytest.raises(BadBackendData):
        field(order, "count", str, required=False)  # present and wrong is wrong, required or not
    with pytest.raises(BadBackendData):
        field(order, "eta", str)
    with pytest.raises(BadBackendData):
        field(["not", "a", "dict"], "status", str)
    assert expect([1], (list, dict)) == [1]


@pytest.mark.parametrize(
    "value, kind",
    [
        (float("inf"), float),  # JSON's 1e999
        (-float("inf"), (int, float)),
        (10**400, int),  # no double holds it: the proto parser refuses the response
        (2**53 + 1, float),
        (1e300, float),  # finite, and 300 digits read out
        ("x\x00\x07\x1b[31m", str),
        ("line one\nline two", str),
        ("\u202eevil", str),  # a right-to-left override reorders what a chat shows
        ("n" * 1001, str),
    ],
    ids=[
        "inf",
        "-inf",
        "huge-int",
        "beyond-2**53",
        "huge-float",
        "control-characters",
        "line-break",
        "direction-override",
        "too-long",
    ],
)
def test_values_a_caller_must_not_hear_are_bad_backend_data(value, kind):
    with pytest.raises(BadBackendData) as caught:
        field({"v": value}, "v", kind)
    assert "expected" in caught.value.detail and str(value)[:20] not in caught.value.detail


def test_empty_text_counts_as_absent():
    assert field({"tracking": ""}, "tracking", str, required=False) is None
    with pytest.raises(BadBackendData):
        field({"return_id": ""}, "return_id", str)
    assert field({"tracking": "  "}, "tracking", str, required=False) is None
    assert field({"v": 2**53}, "v", int) == 2**53


def test_failed_checks_name_the_backend_that_answered(mocked):
    mocked.get(f"{STORE}/orders/ORD-1", json={"id": "ORD-1", "status": 7})
    with backend_calls():  # as in every webhook call
        order = store().get_json("/orders/ORD-1")
        with pytest.raises(BadBackendData) as caught:
            field(order, "status", str)

    assert caught.value.system == "our order system"
    assert "'status' is int, expected str" in caught.value.detail


def test_body_over_the_cap_is_bad_backend_data(mocked, monkeypatch):
    monkeypatch.setenv("BACKEND_MAX_BODY_BYTES", "1000")
    mocked.get(f"{STORE}/orders", body=json.dumps(["x" * 100] * 20), content_type="application/json")

    with pytest.raises(BadBackendData) as caught:
        store().get_json("/orders")

    assert "BACKEND_MAX_BODY_BYTES" in caught.value.detail


@pytest.mark.parametrize("status", [301, 302, 307])
def test_redirect_is_bad_backend_data_and_not_followed(mocked, status):
    mocked.get(f"{STORE}/orders/ORD-1", status=status, headers={"Location": "http://elsewhere.test/x"})
    mocked.get("http://elsewhere.test/x", json={"id": "ORD-1"})

    with pytest.raises(BadBackendData) as caught:
        store().get_json("/orders/ORD-1")

    assert caught.value.status == status
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("status", [202, 204])
def test_other_2xx_is_bad_backend_data(mocked, status):
    mocked.post(f"{STORE}/orders", status=status, body=b"")

    with pytest.raises(BadBackendData) as caught:
        store().post_json("/orders", {})

    assert caught.value.status == status


def test_429_honours_a_short_retry_after(mocked):
    mocked.get(f"{STORE}/weather", status=429, headers={"Retry-After": "0.05"})
    mocked.get(f"{STORE}/weather", json={"temp_c": 4})

    assert store().get_json("/weather") == {"temp_c": 4}
    assert len(mocked.calls) == 2


def test_429_with_a_long_retry_after_is_not_waited_for(mocked):
    mocked.get(f"{STORE}/weather", status=429, headers={"Retry-After": "30"})

    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        store().get_json("/weather")

    assert caught.value.status == 429
    assert len(mocked.calls) == 1 and time.monotonic() - started < 0.1


def test_retries_stop_when_the_deadline_cannot_fit_another_attempt(mocked, monkeypatch):
    monkeypatch.setenv("BACKEND_STORE_RETRIES", "50")
    mocked.get(f"{STORE}/orders/ORD-1", status=503)

    started = time.monotonic()
    with backend_calls() as calls, Deadline(0.6), pytest.raises(Unavailable):
        store().get_json("/orders/ORD-1")
    elapsed = time.monotonic() - started

    assert elapsed < 0.6  # gave up early: no attempt was started without room to finish
    # Backoff 50-100 ms, then 100-200 ms, then 200-400: the 0.2 s minimal attempt leaves room
    # for 2 or 3 retries in 0.6 s, never the 51 configured.
    assert 2 <= len(mocked.calls) <= 4
    assert calls[0]["attempts"] == len(mocked.calls)


def test_too_little_time_left_fails_fast_without_calling(mocked):
    mocked.get(f"{STORE}/orders/ORD-1", json={})

    with backend_calls() as calls, Deadline(0.01), pytest.raises(Timeout) as caught:
        store().get_json("/orders/ORD-1")

    assert caught.value.system == "our order system"
    assert len(mocked.calls) == 0
    assert calls[0]["attempts"] == 0 and calls[0]["outcome"] == "timeout"


# --- idempotency ---------------------------------------------------------------------------


def test_idempotency_key_is_stable_opaque_and_distinct():
    key = idempotency_key("resp-7f3a", "create-return", "ORD-1", "SKU-9")

    assert key == idempotency_key("resp-7f3a", "create-return", "ORD-1", "SKU-9")
    assert len(key) == 32 and int(key, 16) >= 0
    assert "ORD" not in key and "resp" not in key
    assert key != idempotency_key("resp-7f3b", "create-return", "ORD-1", "SKU-9")
    assert key != idempotency_key("resp-7f3a", "cancel-order", "ORD-1", "SKU-9")
    # Parts are not simply glued together: ("ORD-1", "SKU-9") is not ("ORD-1SKU-9",).
    assert key != idempotency_key("resp-7f3a", "create-return", "ORD-1SKU-9")
    with pytest.raises(ValueError):
        idempotency_key("", "create-return")


def test_a_turn_key_is_never_shared_by_two_sessions():
    from fulfillment.backend import turn_key
    from fulfillment.request import WebhookRequest
    from tests.conftest import cx_request

    alice = cx_request("process-return", response_id="turn-1")
    bob = cx_request("process-return", response_id="turn-1")
    bob["sessionInfo"] = {
        **bob["sessionInfo"],
        "session": "projects/p/locations/global/agents/a/sessions/bob",
    }

    assert turn_key(WebhookRequest(alice), "ORD-1") == turn_key(WebhookRequest(alice), "ORD-1")
    assert turn_key(WebhookRequest(alice), "ORD-1") != turn_key(WebhookRequest(bob), "ORD-1")


def test_idempotency_key_is_sent_as_a_header(mocked):
    mocked.post(f"{STORE}/orders/ORD-1/returns", status=201, json={"return_id": "R-1"})
    key = idempotency_key("resp-7f3a", "create-return", "ORD-1")

    store().post_json("/orders/ORD-1/returns", {"item_id": "SKU-9"}, idempotency_key=key)
    store().post_json("/orders/ORD-1/returns", {"item_id": "SKU-9"}, idempotency_key=key)

    assert [c.request.headers["Idempotency-Key"] for c in mocked.calls] == [key, key]


# --- cache ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_cached_read_is_answered_from_memory_until_its_ttl(mocked):
    clock = FakeClock()
    reset(Client(cache_clock=clock))
    weather = backend("store")
    mocked.get(f"{STORE}/weather/current", json={"temp_c": 4})

    with backend_calls() as calls:
        first = weather.get_json("/weather/current", params={"city": "Oslo"}, cache_ttl=600)
        first["temp_c"] = 99  # the caller's copy: must not change what the cache holds
        second = weather.get_json("/weather/current", params={"city": "Oslo"}, cache_ttl=600)
    assert second == {"temp_c": 4}
    assert len(mocked.calls) == 1
    assert [c["cached"] for c in calls] == [False, True]

    weather.get_json("/weather/current", params={"city": "Bergen"}, cache_ttl=600)  # other params
    assert len(mocked.calls) == 2

    clock.now += 601
    weather.get_json("/weather/current", params={"city": "Oslo"}, cache_ttl=600)
    assert len(mocked.calls) == 3


def test_a_call_that_finds_a_cached_answer_bad_forgets_it_for_everyone(mocked):
    from fulfillment.backend import forget_cached_answers

    weather = backend("store")
    mocked.get(f"{STORE}/weather/current", json={"temp_c": "warm"})  # cached by the first call
    mocked.get(f"{STORE}/weather/current", json={"temp_c": 4})
    ask = lambda: weather.get_json("/weather/current", params={"city": "Oslo"}, cache_ttl=600)  # noqa: E731

    with backend_calls():
        ask()  # fetched and cached; this call's handler is happy with it
    with backend_calls():
        assert ask() == {"temp_c": "warm"}  # from memory, and this call's handler is not
        forget_cached_answers()
    with backend_calls():
        assert ask() == {"temp_c": 4}
    assert len(mocked.calls) == 2


def test_errors_are_not_cached(mocked):
    mocked.get(f"{STORE}/weather/current", status=404)
    mocked.get(f"{STORE}/weather/current", json={"temp_c": 4})

    with pytest.raises(NotFound):
        store().get_json("/weather/current", cache_ttl=600)
    assert store().get_json("/weather/current", cache_ttl=600) == {"temp_c": 4}
    assert store().get_json("/weather/current", cache_ttl=600) == {"temp_c": 4}
    assert len(mocked.calls) == 2


def test_uncached_reads_always_call(mocked):
    mocked.get(f"{STORE}/orders/ORD-1", json={"id": "ORD-1"})

    store().get_json("/orders/ORD-1")
    store().get_json("/orders/ORD-1")

    assert len(mocked.calls) == 2


# --- authentication ------------------------------------------------------------------------


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


# --- demo store ----------------------------------------------------------------------------


@pytest.fixture
def demo_store(monkeypatch):
    """A stand-in ``demo_store`` module: the real one is a colleague's."""
    for name in ("BACKEND_STORE_URL",):
        monkeypatch.delenv(name)
    keys = {"booking": ("bearer", "bt-demo"), "weather": ("api-key", "wk-demo")}
    running = types.SimpleNamespace(
        url="http://127.0.0.1:8931", credentials=lambda name: keys.get(name, ("none", ""))
    )
    module = types.ModuleType("demo_store")
    module.shared = lambda: running
    monkeypatch.setitem(sys.modules, "demo_store", module)
    return running


def test_without_url_backends_use_the_demo_store_with_its_credentials(mocked, demo_store, caplog):
    mocked.get("http://127.0.0.1:8931/orders/ORD-1", json={"id": "ORD-1"})
    mocked.get("http://127.0.0.1:8931/slots", json=[])
    mocked.get("http://127.0.0.1:8931/weather/current", json={})

    with caplog.at_level(logging.WARNING, logger="fulfillment.backend"):
        assert store().get_json("/orders/ORD-1") == {"id": "ORD-1"}
        store().get_json("/orders/ORD-1")
        backend("booking").get_json("/slots")
        backend("weather").get_json("/weather/current")

    order, _, slots, weather = (c.request.headers for c in mocked.calls)
    assert "Authorization" not in order and "X-API-Key" not in order
    assert slots["Authorization"] == "Bearer bt-demo"
    assert weather["X-API-Key"] == "wk-demo"
    warnings = [r.getMessage() for r in caplog.records]
    assert (
        warnings.count(
            "backend 'store' is the embedded demo store at http://127.0.0.1:8931 (set BACKEND_STORE_URL for a real one)"
        )
        == 1
    )  # once per backend, not per call
    assert len(warnings) == 3
    assert "bt-demo" not in caplog.text and "wk-demo" not in caplog.text


def test_a_demo_store_endpoint_not_written_yet_is_an_error_not_a_missing_record(mocked, demo_store, caplog):
    # A fork's new tag before its demo endpoint exists: "I couldn't find member M-1234" would
    # hide the missing endpoint; a record the store lacks is still NotFound.
    body = {"error": "no endpoint /members/M-1", "code": "no-such-endpoint"}
    mocked.get("http://127.0.0.1:8931/members/M-1", status=404, json=body)
    mocked.get("http://127.0.0.1:8931/orders/ORD-9", status=404, json={"error": "order not found"})

    with caplog.at_level(logging.ERROR, logger="fulfillment.backend"), pytest.raises(Unavailable):
        store().get_json("/members/M-1")
    with pytest.raises(NotFound):
        store().get_json("/orders/ORD-9")

    assert "the demo store has no endpoint GET /members/:id: add it to demo_store/api.py" in caplog.text


def test_demo_store_off_and_no_url_is_unavailable(mocked, demo_store, monkeypatch, caplog):
    monkeypatch.setenv("DEMO_STORE", "off")

    with caplog.at_level(logging.ERROR, logger="fulfillment.backend"):
        for _ in range(3):
            with pytest.raises(Unavailable) as caught:
                store().get_json("/orders/ORD-1")

    assert caught.value.system == "our order system"
    assert len(mocked.calls) == 0
    assert len(caplog.records) == 1 and "BACKEND_STORE_URL" in caplog.records[0].getMessage()


def test_demo_store_that_cannot_start_is_unavailable(mocked, monkeypatch):
    monkeypatch.delenv("BACKEND_STORE_URL")
    broken = types.ModuleType("demo_store")
    broken.shared = lambda: (_ for _ in ()).throw(OSError("port in use"))
    monkeypatch.setitem(sys.modules, "demo_store", broken)

    with pytest.raises(Unavailable):
        store().get_json("/orders/ORD-1")


# --- records, paths, import cost -----------------------------------------------------------


def test_failure_logs_name_the_path_without_its_ids(mocked, caplog, no_backoff):
    mocked.get(f"{STORE}/orders/ORD-7777123", status=404)
    mocked.get(f"{STORE}/accounts/ACC-87654329/balance", status=503)

    with caplog.at_level(logging.DEBUG, logger="fulfillment.backend"):
        with pytest.raises(NotFound) as not_found:
            store().get_json("/orders/ORD-7777123")
        with pytest.raises(Unavailable) as unavailable:
            store().get_json("/accounts/ACC-87654329/balance")

    assert "/orders/:id" in not_found.value.detail and "/accounts/:id/balance" in unavailable.value.detail
    assert caplog.records and "retrying" in caplog.text
    for text in (caplog.text, not_found.value.detail, unavailable.value.detail):
        assert "7777123" not in text and "87654329" not in text


def test_calls_are_recorded_without_query_values(mocked):
    mocked.get(f"{STORE}/weather/current", json={"temp_c": 4})
    mocked.get(f"{STORE}/orders/ORD-404", status=404)

    with backend_calls() as calls:
        store().get_json("/weather/current", params={"city": "Tromsø"})
        with pytest.raises(NotFound):
            store().get_json("/orders/ORD-404")

    ok, missing = calls
    assert set(ok) == {"backend", "method", "path", "status", "outcome", "ms", "attempts", "cached"}
    assert (ok["backend"], ok["method"], ok["path"], ok["status"], ok["outcome"]) == (
        "store",
        "GET",
        "/weather/current",
        200,
        "ok",
    )
    assert ok["ms"] >= 0 and ok["attempts"] == 1 and ok["cached"] is False
    assert (missing["status"], missing["outcome"]) == (404, "not-found")
    assert "Troms" not in repr(calls)


def test_calls_outside_a_collection_are_not_recorded(mocked):
    mocked.get(f"{STORE}/a", json={})
    store().get_json("/a")  # no backend_calls(): nothing to append to, nothing fails


@pytest.mark.parametrize(
    "path",
    [
        "orders/1",
        "//evil.test/x",
        "/orders/../admin",
        "/orders/1?x=1",
        "/a#b",
        # requests' requote_uri decodes %2e, so these went out as /orders/../admin
        "/orders/%2e%2e/admin",
        "/orders/.%2E/admin",
        "/orders/%2E%2E",
    ],
)
def test_paths_that_could_escape_are_refused(path):
    with pytest.raises(ValueError):
        store().get_json(path)


def test_a_refused_path_is_not_quoted_with_the_callers_data():
    # A handler that puts what the caller said into a path unchecked gets this error, and its
    # traceback is logged.
    with pytest.raises(ValueError) as caught:
        store().get_json("/members/Jane Doe?x")
    assert "Jane" not in str(caught.value) and "/members/:id" in str(caught.value)


def test_backend_names_map_to_environment_variables():
    with pytest.raises(ValueError):
        backend("Store")
    assert backend("loyalty-points").spoken_name == "our loyalty points system"


def test_importing_the_module_does_not_import_requests():
    code = (
        "import sys, fulfillment.backend as b; b.backend('store');"
        "eager = {'requests', 'urllib3', 'google.auth', 'cachetools'} & set(sys.modules);"
        "assert not eager, eager"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


# --- against a real server -----------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with FaultServer() as running:
        yield running


@pytest.fixture
def real(server, monkeypatch):
    monkeypatch.setenv("BACKEND_STORE_URL", server.url)
    reset()
    return server


def test_hung_backend_times_out_at_the_deadline(real):
    real.route("/hang", Reply(hang=True))

    started = time.monotonic()
    with Deadline(0.5), pytest.raises(Timeout) as caught:
        store().get_json("/hang")

    assert 0.45 <= time.monotonic() - started <= 0.5 + TOLERANCE_S
    assert caught.value.system == "our order system"


def test_per_backend_timeout_caps_each_attempt(real, monkeypatch):
    monkeypatch.setenv("BACKEND_STORE_TIMEOUT_S", "0.2")
    monkeypatch.setenv("BACKEND_STORE_RETRIES", "0")
    real.route("/hang-capped", Reply(hang=True))

    started = time.monotonic()
    with Deadline(3.0), pytest.raises(Timeout):
        store().get_json("/hang-capped")

    assert time.monotonic() - started <= 0.2 + TOLERANCE_S


def test_trickling_body_is_cut_at_the_deadline(real):
    # Headers at once, then a byte every 100 ms: every single read succeeds in time, so only
    # a bound on the whole call stops it (the body alone would take 4 s).
    real.route("/trickle", Reply(trickle_ms=100, body=b'{"padding": "' + b"x" * 30 + b'"}'))

    started = time.monotonic()
    with backend_calls() as calls, Deadline(0.5), pytest.raises(Timeout):
        store().get_json("/trickle")

    assert time.monotonic() - started <= 0.5 + TOLERANCE_S
    assert calls[0]["attempts"] == 1  # the deadline left no room for a retry


def test_trickling_headers_are_cut_at_the_deadline(real):
    real.route("/trickle-head", Reply(trickle_ms=50, trickle_headers=True, body=b"{}"))

    started = time.monotonic()
    with Deadline(0.5), pytest.raises(Timeout):
        store().get_json("/trickle-head")

    assert time.monotonic() - started <= 0.5 + TOLERANCE_S


def test_the_client_recovers_after_a_timeout(real):
    real.route("/trickle-then-ok", Reply(trickle_ms=100, body=b"{}" * 20))
    real.route("/fine", Reply(json={"ok": True}))

    with Deadline(0.3), pytest.raises(Timeout):
        store().get_json("/trickle-then-ok")

    assert store().get_json("/fine") == {"ok": True}


def test_reset_mid_body_is_unavailable_and_a_read_retries_it(real, no_backoff):
    # Unavailable, not BadBackendData: the transport broke, the backend did not send a wrong
    # answer; the same read a moment later can succeed, which is what Unavailable promises.
    body = json.dumps({"items": ["x" * 40] * 100}).encode()
    real.route("/reset-once", Reply(reset_mid_body=True, body=body), Reply(body=body))
    real.route("/reset-always", Reply(reset_mid_body=True, body=body))

    assert store().get_json("/reset-once") == json.loads(body)
    with pytest.raises(Unavailable) as caught:
        store().post_json("/reset-always", {})
    assert type(caught.value) is Unavailable and caught.value.status == 200
    assert real.hits("/reset-always") == 1


def test_concurrent_misses_of_one_cached_key_make_one_fetch(real):
    from concurrent.futures import ThreadPoolExecutor

    real.route("/weather/current", Reply(json={"temp_c": 4}, delay_s=0.3))

    def ask(_):
        return store().get_json("/weather/current", params={"city": "Oslo"}, cache_ttl=60)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(ask, range(10)))

    assert answers == [{"temp_c": 4}] * 10
    assert real.hits("/weather/current") == 1  # billed per call: one call


@pytest.mark.parametrize(("status", "error", "hits"), [(404, NotFound, 1), (503, Unavailable, 3)])
def test_concurrent_misses_of_one_cached_key_share_its_failure_too(real, no_backoff, status, error, hits):
    # An unknown city, or a weather API that is down: ten callers at once are one call (and
    # its retries), not ten; each still hears the failure, and it is not cached.
    from concurrent.futures import ThreadPoolExecutor

    path = f"/weather/current-{status}"  # hits are counted per path, for the server's life
    real.route(path, Reply(status=status, json={"error": "x"}, delay_s=0.3))

    def ask(_):
        with backend_calls() as calls:
            try:
                store().get_json(path, params={"city": "Atlantis"}, cache_ttl=60)
            except BackendError as err:
                return type(err), len(calls)
        return None, len(calls)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(ask, range(10)))

    assert answers == [(error, 1)] * 10  # each call's log line still names the backend call
    assert real.hits(path) == hits


def test_a_body_cut_short_of_its_content_length_is_unavailable_and_a_read_retries_it(real, no_backoff):
    # Complete-looking JSON, then the connection ends 500 bytes early: not an answer.
    body = b'{"status": "shipped"}'
    short = Reply(body=body, send_length=False, headers={"Content-Length": str(len(body) + 500)})
    real.route("/short-once", short, Reply(body=body))
    real.route("/short-always", short)

    assert store().get_json("/short-once") == {"status": "shipped"}
    assert real.hits("/short-once") == 2
    with pytest.raises(Unavailable):
        store().get_json("/short-always")


def test_a_content_length_that_is_not_a_number_is_ignored_not_a_crash(real, no_backoff):
    # "²" passes str.isdigit() and fails int(). http.client ignores such a length and reads
    # to the end of the connection; the size cap must not raise a ValueError first.
    reply = Reply(json={"status": "shipped"}, send_length=False, headers={"Content-Length": "²"})
    real.route("/superscript", reply)

    assert store().get_json("/superscript") == {"status": "shipped"}


def test_connection_closed_before_answering_is_unavailable(real, no_backoff):
    real.route("/drop", Reply(close_before_answer=True))

    with pytest.raises(Unavailable) as caught:
        store().get_json("/drop")

    assert type(caught.value) is Unavailable and caught.value.status is None
    assert real.hits("/drop") == 3


def test_connection_refused_is_unavailable_fast(monkeypatch):
    monkeypatch.setenv("BACKEND_STORE_URL", closed_port_url())
    monkeypatch.setenv("BACKEND_STORE_RETRIES", "0")

    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        store().get_json("/orders/ORD-1")

    assert type(caught.value) is Unavailable
    assert time.monotonic() - started < 0.1


def test_post_with_key_retries_a_refused_connection_and_without_key_does_not(monkeypatch, no_backoff):
    monkeypatch.setenv("BACKEND_STORE_URL", closed_port_url())

    with backend_calls() as calls:
        for key in ("k" * 32, None):
            with pytest.raises(Unavailable):
                store().post_json("/orders/ORD-1/returns", {}, idempotency_key=key)

    assert [c["attempts"] for c in calls] == [3, 1]


def test_huge_declared_body_is_refused_without_reading_it(real):
    real.route("/huge", Reply(size=10 * 1024 * 1024))

    started = time.monotonic()
    with pytest.raises(BadBackendData):
        store().get_json("/huge")

    assert time.monotonic() - started < 0.5
    time.sleep(0.05)  # let the server notice the closed connection
    assert real.body_bytes_sent["/huge"] < 10 * 1024 * 1024


def test_endless_body_is_cut_at_the_cap_not_at_the_deadline(real):
    # No Content-Length and no end: only counting the bytes as they come can stop this.
    real.route("/endless", Reply(endless=True))

    started = time.monotonic()
    with Deadline(3.0), pytest.raises(BadBackendData):
        store().get_json("/endless")

    assert time.monotonic() - started < 1.0


def test_compressed_body_is_capped_after_decompression(real):
    bomb = gzip.compress(b" " * (5 * 1024 * 1024), compresslevel=1)
    real.route("/bomb", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))

    with pytest.raises(BadBackendData):
        store().get_json("/bomb")


def test_wrong_content_type_from_a_real_server(real):
    real.route("/html", Reply(body=b"<html>Sign in</html>", content_type="text/html; charset=utf-8"))

    with pytest.raises(BadBackendData):
        store().get_json("/html")


def test_connections_are_pooled_and_reused(real):
    real.route("/pooled", Reply(json={"n": 1}))
    store().get_json("/pooled")  # warm: one connection
    before = real.connections

    for _ in range(20):
        store().get_json("/pooled")

    assert real.connections == before


def test_32_threads_share_one_session(real, monkeypatch):
    created = []

    class CountingSession(requests.Session):
        def __init__(self):
            created.append(self)
            super().__init__()

    monkeypatch.setattr(requests, "Session", CountingSession)
    reset()
    real.route("/busy", Reply(json={"ok": True}, delay_s=0.02))
    before = real.connections
    start = threading.Barrier(32)
    results, errors = [], []

    def worker():
        start.wait()
        try:
            for _ in range(4):
                results.append(store().get_json("/busy"))
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == 128 and all(r == {"ok": True} for r in results)
    assert len(created) == 1
    assert real.connections - before <= 32  # each thread reuses its pooled connection


def test_requests_is_loaded_without_its_unused_encoding_detector():
    """fulfillment._requests keeps charset_normalizer (2.9 MiB) out of a fresh process, quietly,
    and only while requests is first imported."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    script = (
        "import sys, warnings\n"
        "warnings.simplefilter('error')\n"
        "from fulfillment.backend import backend\n"
        "backend('store').client.session()\n"
        "import requests.compat\n"
        "assert 'charset_normalizer' not in sys.modules and 'chardet' not in sys.modules\n"
        "assert requests.compat.chardet is None\n"
        "import charset_normalizer\n"  # a handler may still use it
        "print('ok')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "AUTH_MODES": "none"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_a_failed_check_names_this_calls_backend_never_an_earlier_calls(mocked):
    # functions-framework serves many calls on one thread: who answered the previous call must
    # not be named for data this call got elsewhere.
    mocked.get(f"{STORE}/orders/ORD-1", json={"id": "ORD-1"})
    with backend_calls():
        store().get_json("/orders/ORD-1")

    with backend_calls(), pytest.raises(BadBackendData) as caught:
        field({"id": "x"}, "status", str)
    assert caught.value.system == "our system"


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
