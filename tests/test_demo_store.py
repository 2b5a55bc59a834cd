"""The demo store over real HTTP on loopback, as the webhook's backend client reaches it."""

import json
import logging
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

import demo_store
from demo_store import server as store_server

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 5


class Clock:
    """A settable clock for the store, so "today" cannot move under a test."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


def noon_today():
    return datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def clock():
    return Clock(noon_today())


@pytest.fixture(scope="module")
def store(clock):
    """One store for the read-only tests."""
    running = demo_store.start(clock=clock)
    yield running
    running.stop()


@pytest.fixture
def fresh_clock():
    return Clock(noon_today())


@pytest.fixture
def fresh_store(fresh_clock):
    """A store of its own, for tests that change data or count connections."""
    running = demo_store.start(clock=fresh_clock)
    yield running
    running.stop()


def day(clock, offset):
    return (clock.now.date() + timedelta(days=offset)).isoformat()


def answer(response, status):
    """The JSON body of ``response`` after checking its status and JSON framing."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content)
    return response.json()


def get(store, path, **kwargs):
    return requests.get(store.url + path, timeout=TIMEOUT, **kwargs)


def post(store, path, body, **kwargs):
    return requests.post(store.url + path, json=body, timeout=TIMEOUT, **kwargs)


def count(store, sql, *params):
    with store.database.transaction() as conn:
        return conn.execute(sql, params).fetchone()[0]


# --- raw HTTP, for what requests will not send ---------------------------------------------------


def read_response(stream):
    """(status, headers with lower-case names, body) of one HTTP/1.1 response read from ``stream``."""
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body


def raw_exchange(store, data, responses=1):
    """Send ``data`` on a new connection and read ``responses`` answers; also whether it was closed."""
    port = int(store.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        stream = sock.makefile("rb")
        answers = [read_response(stream) for _ in range(responses)]
        sock.settimeout(0.5)
        try:
            closed = stream.read(1) == b""
        except TimeoutError:
            closed = False
    return answers, closed


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


# --- inventory -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "quantity"),
    [
        ("", 16),
        ("&size=10", 2),
        ("&size=10&color=BLUE", 0),  # the out-of-stock variant
        ("&size=9&color=blue", 3),
        ("&color=Black", 13),
        ("&size=13", 0),
        ("&size=&color=", 16),  # blank filters are no filters
    ],
)
def test_inventory_sums_the_matching_variants(store, query, quantity):
    stock = answer(get(store, f"/inventory?product_id=sku-100{query}"), 200)
    assert stock["product_id"] == "SKU-100"
    assert stock["name"] == "Trail Running Shoe"
    assert stock["quantity"] == quantity
    assert stock["variants"] == [
        {"size": "8", "color": "black", "quantity": 4},
        {"size": "9", "color": "black", "quantity": 7},
        {"size": "10", "color": "black", "quantity": 2},
        {"size": "9", "color": "blue", "quantity": 3},
        {"size": "10", "color": "blue", "quantity": 0},
    ]


def test_a_sold_out_product_has_quantity_zero(store):
    assert answer(get(store, "/inventory?product_id=SKU-400"), 200)["quantity"] == 0


def test_an_unknown_product_is_404(store):
    assert answer(get(store, "/inventory?product_id=SKU-999"), 404) == {"error": "product not found"}


@pytest.mark.parametrize("query", ["", "?product_id=", "?product_id=%20", "?size=10", "?product_id=shoe"])
def test_inventory_without_a_valid_product_id_is_400(store, query):
    assert "error" in answer(get(store, f"/inventory{query}"), 400)


# --- customers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["ada.lovelace@example.com", "ADA.Lovelace@Example.COM", " ada.lovelace@example.com "]
)
def test_customers_are_found_by_email_in_any_case(store, email):
    assert answer(get(store, "/customers", params={"email": email}), 200) == [
        {
            "id": "CUS-1001",
            "name": "Ada Lovelace",
            "email": "ada.lovelace@example.com",
            "phone": "+1 415 555 0101",
        }
    ]


def test_an_email_shared_by_two_customers_finds_both(store):
    found = answer(get(store, "/customers", params={"email": "smith.family@example.com"}), 200)
    assert [customer["id"] for customer in found] == ["CUS-1004", "CUS-1005"]


def test_an_unknown_email_finds_nobody(store):
    assert answer(get(store, "/customers", params={"email": "nobody@example.com"}), 200) == []


@pytest.mark.parametrize("query", ["", "?email=", "?name=Ada"])
def test_customers_without_an_email_is_400(store, query):
    assert answer(get(store, f"/customers{query}"), 400) == {"error": "email is required"}


# --- accounts ------------------------------------------------------------------------------------


def test_an_account_is_answered_with_its_balances(store):
    assert answer(get(store, "/accounts/acc-12345678"), 200) == {
        "account_id": "ACC-12345678",
        "owner": "Ada Lovelace",
        "currency": "USD",
        "balance": 2543.17,
        "available_balance": 2343.17,
    }


def test_an_unknown_account_is_404_and_a_malformed_one_400(store):
    assert answer(get(store, "/accounts/ACC-00000000"), 404) == {"error": "account not found"}
    assert answer(get(store, "/accounts/ACC-00000000/transactions"), 404) == {"error": "account not found"}
    assert "ACC-12345678" in answer(get(store, "/accounts/ACC-123"), 400)["error"]


def test_transactions_are_newest_first_five_by_default(store, clock):
    history = answer(get(store, "/accounts/ACC-12345678/transactions"), 200)
    assert history["account_id"] == "ACC-12345678"
    transactions = history["transactions"]
    assert len(transactions) == 5
    assert transactions[0] == {
        "id": "TXN-000008",
        "date": day(clock, 0),
        "description": "Coffee Corner",
        "amount": -4.5,
        "currency": "USD",
    }
    assert [t["date"] for t in transactions] == sorted((t["date"] for t in transactions), reverse=True)


@pytest.mark.parametrize(
    ("account_id", "limit", "expected"),
    [("ACC-12345678", 50, 8), ("ACC-12345678", 1, 1), ("ACC-87654321", 10, 3), ("ACC-11112222", 5, 0)],
)
def test_transactions_honour_the_limit(store, account_id, limit, expected):
    history = answer(get(store, f"/accounts/{account_id}/transactions", params={"limit": limit}), 200)
    assert len(history["transactions"]) == expected


def test_transactions_carry_the_account_currency(store):
    history = answer(get(store, "/accounts/ACC-87654321/transactions"), 200)
    assert {t["currency"] for t in history["transactions"]} == {"EUR"}


@pytest.mark.parametrize("limit", ["0", "51", "-1", "abc", "", "2.5", "٣"])
def test_a_limit_outside_1_to_50_is_400(store, limit):
    response = get(store, "/accounts/ACC-12345678/transactions", params={"limit": limit})
    assert answer(response, 400) == {"error": "limit must be a whole number from 1 to 50"}


# --- appointments --------------------------------------------------------------------------------


def booking(store, body, token=None, **headers):
    if token is not False:
        headers["Authorization"] = f"Bearer {token or store.booking_token}"
    return requests.post(store.url + "/appointments", json=body, headers=headers, timeout=TIMEOUT)


def appointment(clock, offset=1, time="14:00", service="consultation", **customer):
    return {
        "service": service,
        "date": day(clock, offset),
        "time": time,
        "customer": customer
        or {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+1 415 555 0101"},
    }


def test_services_are_listed(store):
    assert answer(get(store, "/appointments/services"), 200) == {
        "services": ["haircut", "consultation", "dental-cleaning", "car-service"]
    }


def test_an_appointment_is_booked_and_its_slot_then_taken(fresh_store, fresh_clock):
    booked = answer(booking(fresh_store, appointment(fresh_clock, service="Dental-Cleaning")), 201)
    assert booked == {
        "confirmation_id": "APT-2002",
        "service": "dental-cleaning",
        "date": day(fresh_clock, 1),
        "time": "14:00",
        "customer_name": "Ada Lovelace",
    }
    again = answer(booking(fresh_store, appointment(fresh_clock, service="dental-cleaning")), 422)
    assert again["code"] == "slot-taken"
    # Another service at the same time is someone else's chair.
    assert answer(booking(fresh_store, appointment(fresh_clock, service="haircut")), 201)


def test_the_seeded_haircut_slot_is_taken(store, clock):
    refused = answer(booking(store, appointment(clock, 1, "10:00", "haircut")), 422)
    assert refused["code"] == "slot-taken"


def test_a_booking_with_only_a_phone_number_is_accepted(fresh_store, fresh_clock):
    # What the webhook sends for a caller who gave no name or email.
    body = appointment(fresh_clock, name="", email="", phone="+1 415 555 0199")
    assert answer(booking(fresh_store, body), 201)["customer_name"] is None


@pytest.mark.parametrize(
    ("offset", "time", "service", "code"),
    [
        (1, "14:00", "massage", "unknown-service"),
        (-1, "10:00", "haircut", "date-in-past"),
        (0, "11:30", "haircut", "date-in-past"),  # today, but the store's clock says 12:00
        (0, "12:00", "haircut", "date-in-past"),
        (1, "08:30", "haircut", "outside-hours"),
        (1, "17:00", "haircut", "outside-hours"),
        (1, "16:45", "haircut", "outside-hours"),
        (1, "10:15", "haircut", "outside-hours"),
        (1, "23:00", "haircut", "outside-hours"),
    ],
)
def test_bookings_that_break_a_rule_are_422_with_a_code(
    fresh_store, fresh_clock, offset, time, service, code
):
    refused = answer(booking(fresh_store, appointment(fresh_clock, offset, time, service)), 422)
    assert refused["code"] == code
    assert count(fresh_store, "SELECT COUNT(*) FROM appointments") == 1  # only the seeded one


@pytest.mark.parametrize(("offset", "time"), [(0, "12:30"), (1, "09:00"), (1, "16:30"), (400, "09:30")])
def test_bookable_slots(fresh_store, fresh_clock, offset, time):
    assert answer(booking(fresh_store, appointment(fresh_clock, offset, time, "car-service")), 201)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Basic dXNlcjpwYXNz", "Bearer", "Bearer tökén"],
)
def test_booking_without_the_right_bearer_token_is_401(fresh_store, fresh_clock, authorization):
    headers = {"Authorization": authorization.encode()} if authorization else {}
    response = requests.post(
        fresh_store.url + "/appointments", json=appointment(fresh_clock), headers=headers, timeout=TIMEOUT
    )
    assert answer(response, 401) == {"error": "a valid bearer token is required"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(fresh_store, "SELECT COUNT(*) FROM appointments") == 1


def test_the_bearer_scheme_is_case_insensitive(fresh_store, fresh_clock):
    response = requests.post(
        fresh_store.url + "/appointments",
        json=appointment(fresh_clock),
        headers={"Authorization": f"bearer {fresh_store.booking_token}"},
        timeout=TIMEOUT,
    )
    assert answer(response, 201)


def test_auth_is_checked_before_the_body(store):
    response = requests.post(store.url + "/appointments", data=b"not json", timeout=TIMEOUT)
    assert answer(response, 401)


@pytest.mark.parametrize(
    "change",
    [
        {"service": None},
        {"service": 7},
        {"date": "tomorrow"},
        {"date": "2030-02-30"},
        {"date": "2030-2-3"},
        {"time": "9:00"},
        {"time": "25:00"},
        {"time": "10:00:00"},
        {"customer": None},
        {"customer": "Ada"},
        {"customer": {}},
        {"customer": {"name": "", "email": " ", "phone": None}},
        {"customer": {"name": "Ada", "email": "not-an-email"}},
        {"customer": {"name": "Ada", "phone": 4155550101}},
    ],
)
def test_a_malformed_booking_is_400(fresh_store, fresh_clock, change):
    body = {**appointment(fresh_clock), **change}
    body = {name: value for name, value in body.items() if value is not None}
    assert "error" in answer(booking(fresh_store, body), 400)
    assert count(fresh_store, "SELECT COUNT(*) FROM appointments") == 1


def test_a_booking_retried_with_its_idempotency_key_is_made_once(fresh_store, fresh_clock):
    body = appointment(fresh_clock, 2, "11:00", "haircut")
    first = answer(booking(fresh_store, body, **{"Idempotency-Key": "b-1"}), 201)
    retry = booking(fresh_store, body, **{"Idempotency-Key": "b-1"})
    assert answer(retry, 201) == first
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert count(fresh_store, "SELECT COUNT(*) FROM appointments") == 2
    moved = {**body, "time": "11:30"}
    assert (
        answer(booking(fresh_store, moved, **{"Idempotency-Key": "b-1"}), 422)["code"]
        == "idempotency-key-reused"
    )


# --- weather -------------------------------------------------------------------------------------


def weather(store, city, key=None):
    headers = {"X-API-Key": store.weather_key if key is None else key}
    return get(store, "/weather/current", params={"city": city}, headers=headers)


def test_current_weather_has_the_weatherapi_shape(store):
    report = answer(weather(store, "London"), 200)
    assert report["location"] == {"name": "London", "country": "United Kingdom"}
    current = report["current"]
    assert set(current) == {"temp_c", "condition", "humidity", "wind_kph"}
    assert isinstance(current["temp_c"], float)
    assert -10 < current["temp_c"] < 25
    assert isinstance(current["condition"]["text"], str)
    assert 0 <= current["humidity"] <= 100
    assert 0 <= current["wind_kph"] <= 35


def test_weather_is_the_same_for_a_city_all_day_in_any_spelling(store):
    assert answer(weather(store, "New York"), 200) == answer(weather(store, "  new YORK "), 200)
    assert answer(weather(store, "sao paulo"), 200)["location"]["name"] == "São Paulo"


def test_weather_changes_from_day_to_day(fresh_store, fresh_clock):
    reports = []
    for _ in range(7):
        reports.append(json.dumps(answer(weather(fresh_store, "Tokyo"), 200)))
        fresh_clock.advance(days=1)
    assert len(set(reports)) > 1


def test_an_unknown_city_is_404(store):
    assert answer(weather(store, "Atlantis"), 404) == {"error": "unknown city"}


def test_weather_without_a_city_is_400(store):
    assert answer(weather(store, ""), 400) == {"error": "city is required"}


@pytest.mark.parametrize("key", ["", "wrong"])
def test_weather_without_the_api_key_is_401(store, key):
    assert answer(weather(store, "London", key=key), 401) == {"error": "a valid X-API-Key header is required"}


# --- HTTP behaviour ------------------------------------------------------------------------------


def test_health_and_index(store):
    health = get(store, "/healthz")
    assert answer(health, 200) == {"status": "ok"}
    assert health.headers["Server"] == "demo_store/1"
    assert "POST /orders/{order_id}/returns" in answer(get(store, "/"), 200)["endpoints"]


def test_an_unknown_path_is_a_json_404(store):
    # Coded apart from a missing record, so a call to an endpoint not written yet is not
    # said to the caller as "I couldn't find that".
    assert answer(get(store, "/admin"), 404) == {"error": "no endpoint /admin", "code": "no-such-endpoint"}
    assert answer(get(store, "/orders/ORD-1001/items"), 404)["code"] == "no-such-endpoint"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/healthz", "GET, HEAD"),
        ("DELETE", "/orders/ORD-1001", "GET, HEAD"),
        ("GET", "/orders/ORD-1001/returns", "POST"),
        ("PUT", "/appointments", "POST"),
        ("OPTIONS", "/inventory", "GET, HEAD"),
    ],
)
def test_a_wrong_method_is_a_json_405_with_allow(store, method, path, allow):
    response = requests.request(method, store.url + path, timeout=TIMEOUT)
    assert answer(response, 405)["error"] == f"method {method} not allowed here"
    assert response.headers["Allow"] == allow


def test_head_is_get_without_the_body(store):
    response = requests.head(store.url + "/healthz", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) == len(get(store, "/healthz").content)


def test_an_unknown_method_is_answered_in_json_and_the_connection_closed(store):
    [(status, headers, body)], closed = raw_exchange(store, b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 501
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "Unsupported method ('BREW')"}
    assert headers["connection"] == "close"
    assert closed


@pytest.mark.parametrize(
    "request_bytes",
    [b"NONSENSE\r\n\r\n", b"GET /healthz HTTP/1.1 extra\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n"],
)
def test_a_malformed_request_line_is_answered_in_json(store, request_bytes):
    [(status, headers, body)], closed = raw_exchange(store, request_bytes)
    assert 400 <= status < 600
    assert headers["content-type"] == "application/json"
    assert "error" in json.loads(body)
    assert closed


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"Content-Length: 1000000\r\n", 413),
        (b"Content-Length: abc\r\n", 400),
        (b"Content-Length: 5\r\nContent-Length: 6\r\n", 400),
        (b"Transfer-Encoding: gzip\r\n", 400),
    ],
)
def test_an_unreadable_body_is_refused_and_the_connection_closed(store, head, status):
    request = b"POST /orders/ORD-1001/returns HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n"
    [(answered, headers, body)], closed = raw_exchange(store, request)
    assert answered == status
    assert "error" in json.loads(body)
    assert headers["connection"] == "close"
    assert closed


def test_pipelined_requests_are_answered_in_order_on_one_connection(fresh_store):
    body = b'{"item_id": "SKU-100", "reason": "x"}'
    data = (
        b"POST /orders/ORD-1001/returns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
        + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    (first, second), closed = raw_exchange(fresh_store, data, responses=2)
    assert first[0] == 201
    assert json.loads(first[2])["item_id"] == "SKU-100"
    assert second[0] == 200
    assert json.loads(second[2]) == {"status": "ok"}
    assert not closed
    assert fresh_store.connections_accepted == 1


def test_a_chunked_request_body_is_read_in_full(fresh_store):
    with requests.Session() as session:
        # A generator makes requests send Transfer-Encoding: chunked.
        chunks = (part for part in [b'{"item_id": "SK', b'U-100", "reas', b'on": "x"}'])
        response = session.post(
            fresh_store.url + "/orders/ORD-1001/returns",
            data=chunks,
            headers={"Content-Type": "application/json"},
            timeout=TIMEOUT,
        )
        assert answer(response, 201)["item_id"] == "SKU-100"
        assert answer(session.get(fresh_store.url + "/healthz", timeout=TIMEOUT), 200)
    assert fresh_store.connections_accepted == 1


def test_keep_alive_reuses_one_connection_for_many_requests(fresh_store):
    with requests.Session() as session:
        for path in [
            "/healthz",
            "/orders/ORD-1001",
            "/orders/ORD-9999",
            "/nope",
            "/inventory?product_id=bad",
        ]:
            response = session.get(fresh_store.url + path, timeout=TIMEOUT)
            assert response.headers["Content-Type"] == "application/json"
            assert "Connection" not in response.headers
        answer(session.post(fresh_store.url + "/orders/ORD-1001/returns", data=b"junk", timeout=TIMEOUT), 400)
        answer(
            session.post(
                fresh_store.url + "/orders/ORD-1001/returns",
                json={"item_id": "SKU-100", "reason": "x"},
                timeout=TIMEOUT,
            ),
            201,
        )
        answer(session.delete(fresh_store.url + "/healthz", timeout=TIMEOUT), 405)
        answer(session.get(fresh_store.url + "/healthz", timeout=TIMEOUT), 200)
    assert fresh_store.connections_accepted == 1


def test_each_new_client_connection_is_counted(fresh_store):
    for _ in range(3):
        with requests.Session() as session:
            session.get(fresh_store.url + "/healthz", timeout=TIMEOUT)
    assert fresh_store.connections_accepted == 3


def test_an_unexpected_failure_is_a_json_500_and_logged(fresh_store, monkeypatch, caplog):
    def broken(call, order_id):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(fresh_store._api, "get_order", broken)
    with requests.Session() as session, caplog.at_level(logging.ERROR, logger="demo_store"):
        assert answer(session.get(fresh_store.url + "/orders/ORD-1001", timeout=TIMEOUT), 500) == {
            "error": "internal error"
        }
        assert answer(session.get(fresh_store.url + "/healthz", timeout=TIMEOUT), 200)
    assert fresh_store.connections_accepted == 1
    [record] = [r for r in caplog.records if r.name == "demo_store"]
    assert "database on fire" in record.exc_text


def test_requests_are_logged_at_debug_and_nothing_reaches_stderr(store, caplog, capfd):
    with caplog.at_level(logging.DEBUG, logger="demo_store"):
        get(store, "/healthz")
        get(store, "/nope")
        raw_exchange(store, b"BREW / HTTP/1.1\r\n\r\n")
        # A client that hangs up halfway through its body.
        port = int(store.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /appointments HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        get(store, "/customers?email=ada.lovelace%40example.com")
        get(store, "/orders/ORD-1002")
        get(store, "/healthz")  # the lines above are logged before this one is answered
    lines = [r.getMessage() for r in caplog.records if r.name == "demo_store"]
    # The service's own log: no query values, no ids.
    assert any(re.fullmatch(r"GET /customers -> 200 in [\d.]+ ms", line) for line in lines)
    assert any(re.fullmatch(r"GET /orders/:id -> 200 in [\d.]+ ms", line) for line in lines)
    assert "lovelace" not in caplog.text and "1002" not in caplog.text
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "demo_store")
    assert any(re.fullmatch(r"GET /healthz -> 200 in [\d.]+ ms", line) for line in lines)
    assert any(re.fullmatch(r"GET /nope -> 404 in [\d.]+ ms", line) for line in lines)
    assert any("BREW" in line for line in lines)
    assert any("POST /appointments -> no answer" in line for line in lines)
    assert capfd.readouterr().err == ""


def test_an_idle_keep_alive_connection_is_closed_quietly(monkeypatch, capfd, caplog):
    monkeypatch.setattr(store_server._Handler, "timeout", 0.3)
    with demo_store.start() as quick, caplog.at_level(logging.DEBUG, logger="demo_store"):
        port = int(quick.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            stream = sock.makefile("rb")
            assert read_response(stream)[0] == 200
            assert stream.read(1) == b""  # the server hung up once the connection idled
    assert any("timed out" in r.getMessage() for r in caplog.records if r.name == "demo_store")
    assert capfd.readouterr().err == ""


def reset(sock):
    """Close ``sock`` with RST instead of FIN (linger 0), as a crashed client would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def wait_for_log(caplog, text):
    deadline = time.monotonic() + TIMEOUT
    while not any(text in r.getMessage() for r in caplog.records if r.name == "demo_store"):
        assert time.monotonic() < deadline, f"never logged: {text}"
        time.sleep(0.02)


def test_clients_resetting_their_connections_are_logged_not_printed(fresh_store, capfd, caplog):
    port = int(fresh_store.url.rsplit(":", 1)[1])
    with caplog.at_level(logging.DEBUG, logger="demo_store"):
        # Reset halfway through a request body: no answer, and no 500.
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.sendall(b"POST /appointments HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.1)  # let the server start reading the body
        reset(sock)
        wait_for_log(caplog, "POST /appointments -> no answer")
        # Reset while the server waits for the next request on a kept-alive connection.
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock.makefile("rb"))[0] == 200
        reset(sock)
        wait_for_log(caplog, "ended with an error")
    assert not [r for r in caplog.records if r.levelno > logging.DEBUG]
    assert capfd.readouterr().err == ""
    assert answer(get(fresh_store, "/healthz"), 200)


# --- lifecycle -----------------------------------------------------------------------------------


def test_each_start_is_a_new_store_with_its_own_secrets(store):
    other = demo_store.start()
    try:
        assert other.url != store.url
        assert other.booking_token != store.booking_token
        assert other.weather_key != store.weather_key
        assert answer(weather(other, "Paris", key=store.weather_key), 401)
        assert answer(weather(other, "Paris"), 200)
    finally:
        other.stop()


def test_stop_closes_the_port_and_hangs_up_on_kept_alive_clients():
    stopped = demo_store.start()
    with requests.Session() as session:
        answer(session.get(stopped.url + "/healthz", timeout=TIMEOUT), 200)
        stopped.stop()
        stopped.stop()  # again: nothing happens
        assert not stopped.running
        with pytest.raises(requests.ConnectionError):
            session.get(stopped.url + "/healthz", timeout=TIMEOUT)
    with pytest.raises(requests.ConnectionError):
        requests.get(stopped.url + "/healthz", timeout=TIMEOUT)


def test_a_store_works_as_a_context_manager():
    with demo_store.start() as running:
        assert answer(get(running, "/healthz"), 200)
    assert not running.running


def test_shared_starts_one_store_for_all_threads(monkeypatch):
    monkeypatch.setattr(store_server, "_shared", None)
    started = []
    real_start = store_server.start

    def counting_start(*args, **kwargs):
        started.append(real_start(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(store_server, "start", counting_start)
    barrier = threading.Barrier(8)

    def call_shared(_):
        barrier.wait()
        return demo_store.shared()

    try:
        with ThreadPoolExecutor(8) as pool:
            stores = list(pool.map(call_shared, range(8)))
        assert len(started) == 1
        assert all(one is started[0] for one in stores)
        assert answer(get(stores[0], "/healthz"), 200)
    finally:
        for one in started:
            one.stop()


def test_shared_replaces_a_stopped_store(monkeypatch):
    stopped = demo_store.start()
    stopped.stop()
    monkeypatch.setattr(store_server, "_shared", stopped)
    replacement = demo_store.shared()
    try:
        assert replacement is not stopped
        assert replacement.running
        assert demo_store.shared() is replacement
    finally:
        replacement.stop()


def test_importing_the_package_starts_nothing():
    check = (
        "import sys, threading, demo_store\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert 'demo_store.server' not in sys.modules and 'sqlite3' not in sys.modules\n"
        "assert callable(demo_store.start) and 'demo_store.server' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", check], cwd=REPO, check=True, timeout=30)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_command_line_runs_a_store_until_terminated():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "demo_store", "--port", str(port), "--weather-key", "fixed-key"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the store printed nothing"
        assert process.stdout.readline().strip() == f"demo store listening on http://127.0.0.1:{port}"
        token_line = process.stdout.readline()
        assert "Bearer" in token_line
        assert process.stdout.readline().strip().endswith(": fixed-key")
        url = f"http://127.0.0.1:{port}"
        assert answer(requests.get(url + "/healthz", timeout=TIMEOUT), 200) == {"status": "ok"}
        token = token_line.rsplit(" ", 1)[1].strip()
        body = appointment(Clock(noon_today()), 3, "09:30", "haircut")
        assert answer(
            requests.post(
                url + "/appointments",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT,
            ),
            201,
        )
        headers = {"X-API-Key": "fixed-key"}
        assert answer(requests.get(url + "/weather/current?city=Oslo", headers=headers, timeout=TIMEOUT), 200)
        process.terminate()
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""  # the URL and keys are printed once
        assert process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_the_command_line_reports_a_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "demo_store", "--port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
