"""Calls that go well: what a read and a write send and return, idempotency keys, and the
cache of reads (mocked with ``responses``)."""

import json

import pytest

from fulfillment.backend import Client, backend, backend_calls, idempotency_key, reset
from fulfillment.errors import NotFound
from tests.backend.kit import STORE, store

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
