"""Appointments: services, slots, booking rules, the bearer token, idempotency keys."""

import pytest
import requests

from tests.store.kit import TIMEOUT, answer, appointment, count, day, get


def booking(store, body, token=None, **headers):
    if token is not False:
        headers["Authorization"] = f"Bearer {token or store.booking_token}"
    return requests.post(store.url + "/appointments", json=body, headers=headers, timeout=TIMEOUT)


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
