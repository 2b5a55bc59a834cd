"""Orders and their returns: lookups, the return rules, idempotency keys, concurrent
returns."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.store.kit import TIMEOUT, answer, count, day, get, post

# --- orders --------------------------------------------------------------------------------------


def test_a_delivered_order_is_answered_in_full(store, clock):
    assert answer(get(store, "/orders/ORD-1001"), 200) == {
        "order_id": "ORD-1001",
        "status": "delivered",
        "tracking_number": "1Z999AA10123456784",
        "estimated_delivery": None,
        "delivered_on": day(clock, -3),
        "customer_id": "CUS-1001",
        "total": 138.99,
        "currency": "USD",
        "items": [
            {"item_id": "SKU-100", "name": "Trail Running Shoe", "quantity": 1, "price": 89.99},
            {"item_id": "SKU-300", "name": "Canvas Tote Bag", "quantity": 2, "price": 24.5},
        ],
    }


@pytest.mark.parametrize(
    ("order_id", "status", "has_tracking", "eta_offset", "delivered_offset"),
    [
        ("ORD-1002", "shipped", True, 2, None),
        ("ORD-1003", "processing", False, 5, None),
        ("ORD-1004", "delivered", True, None, -45),
        ("ORD-1005", "cancelled", False, None, None),
        ("ORD-1006", "delivered", True, None, -10),
    ],
)
def test_seeded_orders_have_dates_relative_to_today(
    store, clock, order_id, status, has_tracking, eta_offset, delivered_offset
):
    order = answer(get(store, f"/orders/{order_id}"), 200)
    assert order["status"] == status
    assert (order["tracking_number"] is not None) == has_tracking
    assert order["estimated_delivery"] == (day(clock, eta_offset) if eta_offset is not None else None)
    assert order["delivered_on"] == (day(clock, delivered_offset) if delivered_offset is not None else None)
    assert order["total"] == round(sum(item["quantity"] * item["price"] for item in order["items"]), 2)


@pytest.mark.parametrize("spelling", ["ord-1002", "Ord-1002", "ORD%2D1002", "ORD-1002/"])
def test_order_ids_are_case_insensitive_and_answered_canonically(store, spelling):
    assert answer(get(store, f"/orders/{spelling}"), 200)["order_id"] == "ORD-1002"


def test_an_unknown_order_is_404(store):
    assert answer(get(store, "/orders/ORD-9999"), 404) == {"error": "order not found"}


@pytest.mark.parametrize("bad_id", ["ORD-12", "banana", "ORD-1001x", "ORD-١٠٠١"])
def test_a_malformed_order_id_is_400(store, bad_id):
    assert "ORD-1001" in answer(get(store, f"/orders/{bad_id}"), 400)["error"]


# --- returns -------------------------------------------------------------------------------------


def test_a_return_is_created_and_refunds_the_whole_line(fresh_store):
    created = answer(
        post(fresh_store, "/orders/ord-1001/returns", {"item_id": "sku-300", "reason": "gift"}), 201
    )
    assert created == {
        "return_id": "RET-5002",
        "order_id": "ORD-1001",
        "item_id": "SKU-300",
        "refund_amount": 49.0,
        "currency": "USD",
        "status": "pending",
    }
    again = answer(
        post(fresh_store, "/orders/ORD-1001/returns", {"item_id": "SKU-300", "reason": "gift"}), 422
    )
    assert again["code"] == "already-returned"
    other = answer(
        post(fresh_store, "/orders/ORD-1001/returns", {"item_id": "SKU-100", "reason": "tight"}), 201
    )
    assert other["return_id"] == "RET-5003"
    assert other["refund_amount"] == 89.99


@pytest.mark.parametrize(
    ("order_id", "item_id", "code"),
    [
        ("ORD-1001", "SKU-200", "item-not-in-order"),
        ("ORD-1001", "not an id", "item-not-in-order"),
        ("ORD-1002", "SKU-200", "not-delivered"),
        ("ORD-1003", "SKU-500", "not-delivered"),
        ("ORD-1005", "SKU-300", "order-cancelled"),
        ("ORD-1004", "SKU-400", "return-window-closed"),
        ("ORD-1006", "SKU-200", "already-returned"),
    ],
)
def test_returns_that_break_a_rule_are_422_with_a_code(fresh_store, order_id, item_id, code):
    refused = answer(
        post(fresh_store, f"/orders/{order_id}/returns", {"item_id": item_id, "reason": "x"}), 422
    )
    assert refused["code"] == code
    assert refused["error"]
    assert count(fresh_store, "SELECT COUNT(*) FROM returns") == 1  # only the seeded one


def test_the_return_window_is_30_days_from_delivery(fresh_store, fresh_clock):
    fresh_clock.advance(days=27)  # ORD-1001 was delivered 3 days before the store started
    assert answer(post(fresh_store, "/orders/ORD-1001/returns", {"item_id": "SKU-100", "reason": "x"}), 201)
    fresh_clock.advance(days=1)
    refused = answer(
        post(fresh_store, "/orders/ORD-1001/returns", {"item_id": "SKU-300", "reason": "x"}), 422
    )
    assert refused["code"] == "return-window-closed"
    assert "31 days" in refused["error"]


def test_a_return_for_an_unknown_order_is_404(fresh_store):
    response = post(fresh_store, "/orders/ORD-9999/returns", {"item_id": "SKU-100", "reason": "x"})
    assert answer(response, 404) == {"error": "order not found"}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[1, 2]",
        b'{"reason": "x"}',
        b'{"item_id": 100, "reason": "x"}',
        b'{"item_id": "SKU-100"}',
        b'{"item_id": "SKU-100", "reason": "   "}',
        b'{"item_id": "SKU-100", "reason": "' + b"x" * 501 + b'"}',
        b'\xff{"item_id": "SKU-100", "reason": "x"}',
    ],
)
def test_a_malformed_return_body_is_400(fresh_store, body):
    response = requests.post(
        fresh_store.url + "/orders/ORD-1001/returns",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert "error" in answer(response, 400)
    assert count(fresh_store, "SELECT COUNT(*) FROM returns") == 1


def test_a_return_retried_with_its_idempotency_key_is_created_once(fresh_store):
    headers = {"Idempotency-Key": "call-42-process-return"}
    first = post(
        fresh_store, "/orders/ORD-1001/returns", {"item_id": "SKU-100", "reason": "x"}, headers=headers
    )
    # Same request, ids spelled differently: still the same operation.
    retry = post(
        fresh_store, "/orders/ord-1001/returns", {"item_id": "sku-100", "reason": "x"}, headers=headers
    )
    assert answer(retry, 201) == answer(first, 201)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(fresh_store, "SELECT COUNT(*) FROM returns WHERE order_id = 'ORD-1001'") == 1


def test_an_idempotency_key_reused_for_a_different_request_is_422(fresh_store):
    headers = {"Idempotency-Key": "k-1"}
    answer(
        post(fresh_store, "/orders/ORD-1001/returns", {"item_id": "SKU-100", "reason": "x"}, headers=headers),
        201,
    )
    for path, body in [
        ("/orders/ORD-1001/returns", {"item_id": "SKU-100", "reason": "changed my mind"}),
        ("/orders/ORD-1001/returns", {"item_id": "SKU-300", "reason": "x"}),
        ("/orders/ORD-1006/returns", {"item_id": "SKU-300", "reason": "x"}),
    ]:
        assert answer(post(fresh_store, path, body, headers=headers), 422)["code"] == "idempotency-key-reused"
    assert count(fresh_store, "SELECT COUNT(*) FROM returns") == 2


def test_a_refused_request_does_not_burn_its_idempotency_key(fresh_store):
    headers = {"Idempotency-Key": "k-2"}
    refused = post(
        fresh_store, "/orders/ORD-1001/returns", {"item_id": "SKU-999", "reason": "x"}, headers=headers
    )
    assert answer(refused, 422)["code"] == "item-not-in-order"
    assert count(fresh_store, "SELECT COUNT(*) FROM idempotency_keys") == 0


@pytest.mark.parametrize("key", ["has space", "x" * 256, "é"])
def test_a_malformed_idempotency_key_is_400(fresh_store, key):
    response = requests.post(
        fresh_store.url + "/orders/ORD-1001/returns",
        data=json.dumps({"item_id": "SKU-100", "reason": "x"}),
        headers={"Idempotency-Key": key.encode()},
        timeout=TIMEOUT,
    )
    assert "Idempotency-Key" in answer(response, 400)["error"]


def test_concurrent_retries_with_one_idempotency_key_create_one_return(fresh_store):
    barrier = threading.Barrier(8)

    def send(_):
        with requests.Session() as session:
            barrier.wait()
            return session.post(
                fresh_store.url + "/orders/ORD-1006/returns",
                json={"item_id": "SKU-300", "reason": "duplicate"},
                headers={"Idempotency-Key": "same-key"},
                timeout=TIMEOUT,
            )

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, range(8)))
    bodies = [answer(response, 201) for response in responses]
    assert all(body == bodies[0] for body in bodies)
    assert sum(response.headers.get("Idempotent-Replayed") == "true" for response in responses) == 7
    assert (
        count(fresh_store, "SELECT COUNT(*) FROM returns WHERE order_id = 'ORD-1006' AND item_id = 'SKU-300'")
        == 1
    )


def test_concurrent_returns_of_one_item_without_a_key_succeed_once(fresh_store):
    barrier = threading.Barrier(8)

    def send(_):
        with requests.Session() as session:
            barrier.wait()
            return session.post(
                fresh_store.url + "/orders/ORD-1001/returns",
                json={"item_id": "SKU-100", "reason": "x"},
                timeout=TIMEOUT,
            )

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(response.status_code for response in pool.map(send, range(8)))
    assert statuses == [201] + [422] * 7
