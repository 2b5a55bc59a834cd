"""The error taxonomy (mocked with ``responses``): which status, body or broken connection
becomes ``NotFound``, ``Rejected``, ``Unavailable``, ``Timeout`` or ``BadBackendData``; what
is retried, and for how long the deadline allows; ``field`` checks of what came back."""

import json
import logging
import time

import pytest
import requests
import urllib3.exceptions

from fulfillment.backend import backend_calls, expect, field
from fulfillment.deadline import Deadline
from fulfillment.errors import BackendError, BadBackendData, NotFound, Rejected, Timeout, Unavailable
from tests.backend.kit import STORE, _never_connected, store


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
