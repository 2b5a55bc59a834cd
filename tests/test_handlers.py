"""What the caller hears from every business tag, with each backend mocked by ``responses``.

Every test drives one tag through ``handlers.app.resolve`` (dict in, dict out) with the
backends at fake https URLs, and checks the exact sentence, the session parameters and
``webhook_outcome``. Every answer is also checked against the official proto, and for the
text ``SECRET-DB-ERROR``, which every mocked error body carries: a backend's own words must
never reach the caller. ``test_handlers_demo.py`` runs the same tags against the demo store.
"""

import datetime
import json
import logging
import os
import uuid

import pytest
import requests
import responses

from fulfillment import backend as backend_module
from fulfillment.backend import reset
from fulfillment.errors import NotFound
from handlers import app
from tests.conftest import assert_valid_response, cx_request, outcome_of, texts_of

# responses replaces the send() of the transport adapter our backend session mounts.
TRANSPORT = "fulfillment.transport.PooledAdapter.send"

STORE = "https://store.test"
BANK = "https://bank.test"
BOOKING = "https://booking.test/v1"
WEATHER = "https://weather.test"
BOOKING_TOKEN = "booking-token-123"
WEATHER_KEY = "weather-key-456"
SECRET = "SECRET-DB-ERROR"

# A date far enough ahead that it is spoken as a weekday, never as "today" or "tomorrow".
LATER = datetime.date(2030, 3, 5)
LATER_SPOKEN = "Tuesday, March 5, 2030"  # years away: the year is said

# What the caller hears when a backend fails in a way no handler words itself.
UNAVAILABLE = "I'm sorry, {system} isn't answering right now. Please try again in a few minutes."
TOO_SLOW = "I'm sorry, {system} is taking too long to answer. Please try again in a few minutes."
UNREADABLE = "I'm sorry, {system} gave me an answer I couldn't read. Please try again later."
# A write that failed after it went out: it may have happened, so never "please try again".
UNCONFIRMED = (
    "I'm sorry, I couldn't get a confirmation from {system}, so I can't tell whether that went "
    "through. Please check before trying again."
)
REFUSED = "I'm sorry, {system} couldn't accept that request."


@pytest.fixture(autouse=True)
def backends(monkeypatch):
    """Every backend at a fake https URL, answered by ``responses``; retries without backoff."""
    for name in list(os.environ):
        if name.startswith("BACKEND_") or name in ("DEMO_STORE", "HANDOFF_PHONE_NUMBER"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEMO_STORE", "off")  # a backend left unset fails, never reaches the demo store
    monkeypatch.setenv("BACKEND_STORE_URL", STORE)
    monkeypatch.setenv("BACKEND_BANK_URL", BANK)
    monkeypatch.setenv("BACKEND_BOOKING_URL", BOOKING)
    monkeypatch.setenv("BACKEND_BOOKING_AUTH", "bearer")
    monkeypatch.setenv("BACKEND_BOOKING_KEY", BOOKING_TOKEN)
    monkeypatch.setenv("BACKEND_WEATHER_URL", WEATHER)
    monkeypatch.setenv("BACKEND_WEATHER_AUTH", "api-key")
    monkeypatch.setenv("BACKEND_WEATHER_KEY", WEATHER_KEY)
    monkeypatch.setattr(backend_module, "BACKOFF_BASE_S", 0.0)
    reset()
    with responses.RequestsMock(assert_all_requests_are_fired=False, target=TRANSPORT) as mock:
        yield mock
    reset()


def resolve(tag, params=None, *, turn=None, **extra):
    """Serve one turn of ``tag`` (a fresh turn unless ``turn`` names one); the checked answer."""
    body = cx_request(tag, params, response_id=turn or f"turn-{uuid.uuid4()}", **extra)
    answer = assert_valid_response(app.resolve(body))
    assert SECRET not in json.dumps(answer), "a backend's error text reached the caller"
    return answer


def session_params(answer):
    return answer["sessionInfo"]["parameters"]


def form_page(parameter, value):
    """``pageInfo`` as CX sends it to a form-validation webhook: the value just collected."""
    info = {"displayName": parameter, "required": True, "state": "FILLED", "justCollected": True}
    if value is not None:
        info["value"] = value
    return {
        "currentPage": "projects/p/locations/global/agents/a/flows/00000000-0000-0000-0000-000000000000/pages/form",
        "displayName": "Form",
        "formInfo": {"parameterInfo": [info]},
    }


def assert_asked_again(answer, parameter, sentence):
    """A form-validation answer: the parameter INVALID and cleared, and the caller told why."""
    assert texts_of(answer) == [sentence]
    assert answer["pageInfo"]["formInfo"]["parameterInfo"] == [
        {"displayName": parameter, "required": True, "state": "INVALID"}
    ]
    assert session_params(answer) == {parameter: None, "webhook_outcome": "invalid-input"}


def cleared(tag):
    """What a tag's non-ok answer removes: the parameters it would have answered with."""
    return dict.fromkeys(app._handlers[tag].answers)


def sent_json(call):
    return json.loads(call.request.body)


def in_days(days):
    return datetime.date.today() + datetime.timedelta(days=days)


def weekday_spoken(date):
    return f"{date:%A}, {date:%B} {date.day}"


# --- What every tag with a backend asks, and what it answers when all goes well ------------------

ORDER = {
    "order_id": "ORD-1002",
    "status": "shipped",
    "tracking_number": "1Z999",
    "estimated_delivery": LATER.isoformat(),
    "delivered_on": None,
}
RETURN = {"return_id": "RET-7", "refund_amount": 89.99, "currency": "USD", "status": "pending"}
STOCK = {"product_id": "SKU-100", "name": "Trail Running Shoe", "quantity": 3, "variants": []}
CUSTOMERS = [{"id": "CUS-1001", "name": "Ada Lovelace", "email": "ada@example.com"}]
ACCOUNT = {"account_id": "ACC-12345678", "currency": "USD", "balance": 2543.17, "available_balance": 2543.17}
HISTORY = {
    "transactions": [
        {"date": LATER.isoformat(), "description": "Coffee Corner", "amount": -4.5, "currency": "USD"}
    ]
}
BOOKED = {"confirmation_id": "APT-2002", "service": "haircut"}
REPORT = {"location": {"name": "Paris"}, "current": {"temp_c": 17.6, "condition": {"text": "Partly cloudy"}}}

# tag: (its parameters, the call it makes, the system the caller hears named, a good answer,
#       and what the caller hears for that answer)
TAGS = {
    "lookup-order": (
        {"order_id": "ORD-1002"},
        ("GET", f"{STORE}/orders/ORD-1002"),
        "our order system",
        ORDER,
        f"Your order ORD-1002 has shipped and should arrive on {LATER_SPOKEN}. The tracking number is 1Z999.",
    ),
    "process-return": (
        {"order_id": "ORD-1001", "item_id": "SKU-100", "return_reason": "too big"},
        ("POST", f"{STORE}/orders/ORD-1001/returns"),
        "our order system",
        RETURN,
        "Your return is started. Your return number is RET-7, and you'll get $89.99 back "
        "within 5 to 7 business days of us receiving the item.",
    ),
    "check-inventory": (
        {"product_id": "SKU-100"},
        ("GET", f"{STORE}/inventory"),
        "our inventory system",
        STOCK,
        "Good news: the Trail Running Shoe is in stock, with 3 available.",
    ),
    "get-customer-info": (
        {"customer_email": "ada@example.com"},
        ("GET", f"{STORE}/customers"),
        "our customer system",
        CUSTOMERS,
        "Thanks, Ada. I found your account.",
    ),
    "account-balance": (
        {"account_id": "ACC-12345678"},
        ("GET", f"{BANK}/accounts/ACC-12345678"),
        "our banking system",
        ACCOUNT,
        "Your balance is $2,543.17.",
    ),
    "recent-transactions": (
        {"account_id": "ACC-12345678"},
        ("GET", f"{BANK}/accounts/ACC-12345678/transactions"),
        "our banking system",
        HISTORY,
        f"Here is your last transaction: {LATER_SPOKEN}, minus $4.50 at Coffee Corner.",
    ),
    "book-appointment": (
        {"service": "haircut", "date": LATER.isoformat(), "time": "10:30", "customer_name": "Ada Lovelace"},
        ("POST", f"{BOOKING}/appointments"),
        "our booking system",
        BOOKED,
        f"You're booked for a haircut on {LATER_SPOKEN} at 10:30 AM. Your confirmation number is APT-2002.",
    ),
    "get-weather": (
        {"city": "Paris"},
        ("GET", f"{WEATHER}/weather/current"),
        "the weather service",
        REPORT,
        "Right now in Paris it's 18 degrees Celsius and partly cloudy.",
    ),
}
READ_TAGS = [tag for tag, (_, (method, _url), *_rest) in TAGS.items() if method == "GET"]
SIDE_EFFECT_TAGS = [tag for tag in TAGS if tag not in READ_TAGS]


def mock_call(backends, tag, **reply):
    _, (method, url), *_ = TAGS[tag]
    backends.add(method, url, **reply)


@pytest.mark.parametrize("tag", TAGS)
def test_every_tag_answers_a_good_backend_answer(backends, tag):
    params, _, _, good, sentence = TAGS[tag]
    mock_call(backends, tag, json=good, status=201 if tag in SIDE_EFFECT_TAGS else 200)

    answer = resolve(tag, params)

    assert texts_of(answer) == [sentence]
    assert outcome_of(answer) == "ok"
    assert len(backends.calls) == 1


# --- Backend failures: the same words for every tag, naming the right system ------------------------

# name: (the mocked reply, outcome, what the caller hears, attempts on a GET, attempts on a POST)
FAILURES = {
    "500": ({"status": 500, "json": {"error": SECRET}}, "unavailable", UNAVAILABLE, 3, 1),
    "502 html": (
        {"status": 502, "body": f"<html>{SECRET}</html>", "content_type": "text/html"},
        "unavailable",
        UNAVAILABLE,
        3,
        1,
    ),
    "503": ({"status": 503, "json": {"error": SECRET, "code": "db-down"}}, "unavailable", UNAVAILABLE, 3, 1),
    "501": ({"status": 501, "json": {"error": SECRET}}, "unavailable", UNAVAILABLE, 1, 1),
    "read timeout": ({"body": requests.exceptions.ReadTimeout(SECRET)}, "timeout", TOO_SLOW, 3, 1),
    # Nothing left: even a POST is sent again, and its Idempotency-Key makes that safe.
    "connect timeout": ({"body": requests.exceptions.ConnectTimeout(SECRET)}, "timeout", TOO_SLOW, 3, 3),
    "connection error": (
        {"body": requests.exceptions.ConnectionError(SECRET)},
        "unavailable",
        UNAVAILABLE,
        3,
        1,
    ),
    "malformed JSON": (
        {"status": 200, "body": '{"status": "shipp', "content_type": "application/json"},
        "bad-backend-data",
        UNREADABLE,
        1,
        1,
    ),
    "text instead of JSON": (
        {"status": 200, "body": SECRET, "content_type": "text/plain"},
        "bad-backend-data",
        UNREADABLE,
        1,
        1,
    ),
    "204 without a body": ({"status": 204}, "bad-backend-data", UNREADABLE, 1, 1),
}


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("tag", TAGS)
def test_a_failing_backend_is_explained_in_our_words(backends, tag, failure):
    params, (method, _), system, _, _ = TAGS[tag]
    reply, outcome, sentence, get_attempts, post_attempts = FAILURES[failure]
    if method == "POST" and failure != "connect timeout":  # only a refused connection sent nothing
        sentence = UNCONFIRMED
    mock_call(backends, tag, **reply)

    answer = resolve(tag, params)

    assert texts_of(answer) == [sentence.format(system=system)]
    assert outcome_of(answer) == outcome
    assert session_params(answer).items() >= cleared(tag).items()  # no earlier answer survives
    assert len(backends.calls) == (get_attempts if method == "GET" else post_attempts)


# What each tag says when the backend refuses with a 4xx it has no words for.
REFUSALS = {
    "process-return": "I'm sorry, I can't start a return for that item.",
    "book-appointment": "I'm sorry, I couldn't book that appointment.",
}


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 400, "json": {"error": SECRET}},
        {"status": 409, "json": {"error": {"code": "conflict", "message": SECRET}}},
        # An error code no handler knows is not spoken either.
        {"status": 422, "json": {"error": "nope", "code": SECRET}},
    ],
    ids=["400", "409", "422 unknown code"],
)
@pytest.mark.parametrize("tag", TAGS)
def test_a_refusal_without_words_is_said_plainly_and_not_retried(backends, tag, reply):
    params, _, system, _, _ = TAGS[tag]
    mock_call(backends, tag, **reply)

    answer = resolve(tag, params)

    assert texts_of(answer) == [REFUSALS.get(tag, REFUSED.format(system=system))]
    assert outcome_of(answer) == "rejected"
    assert len(backends.calls) == 1


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 401, "json": {"error": SECRET}},
        {"status": 403, "body": SECRET, "content_type": "text/plain"},
    ],
    ids=["401", "403"],
)
@pytest.mark.parametrize("tag", TAGS)
def test_our_credentials_refused_are_our_fault_not_the_callers(backends, tag, reply):
    # "couldn't accept that request" would blame the caller for our configuration.
    params, _, system, _, _ = TAGS[tag]
    mock_call(backends, tag, **reply)

    answer = resolve(tag, params)

    assert texts_of(answer) == [UNAVAILABLE.format(system=system)]
    assert outcome_of(answer) == "unavailable"
    assert len(backends.calls) == 1  # a key does not mend within a turn


NOT_FOUND = {
    "lookup-order": "I couldn't find order ORD-1002. Could you check the number and tell me again?",
    "process-return": "I couldn't find order ORD-1001. Could you check the number and tell me again?",
    "check-inventory": "I couldn't find a product with the code SKU-100.",
    # /customers answers a list, [] when nobody matches; a 404 there is the router's wording.
    "get-customer-info": "I'm sorry, I couldn't find that.",
    "account-balance": "I couldn't find account ACC-12345678.",
    "recent-transactions": "I couldn't find account ACC-12345678.",
    "book-appointment": "I'm sorry, I couldn't find that.",
    "get-weather": "Sorry, I don't have the weather for Paris.",
}


@pytest.mark.parametrize("tag", TAGS)
def test_not_found_is_said_and_not_retried(backends, tag):
    params, *_ = TAGS[tag]
    mock_call(backends, tag, status=404, json={"error": SECRET})

    answer = resolve(tag, params)

    assert texts_of(answer) == [NOT_FOUND.get(tag, NotFound.said)]  # unlisted: the router's words
    assert outcome_of(answer) == "not-found"
    assert len(backends.calls) == 1


@pytest.mark.parametrize("tag", READ_TAGS)
def test_a_read_that_fails_once_is_retried_and_answered(backends, tag):
    params, _, _, good, sentence = TAGS[tag]
    mock_call(backends, tag, status=503, json={"error": SECRET})
    mock_call(backends, tag, json=good)

    answer = resolve(tag, params)

    assert texts_of(answer) == [sentence]
    assert outcome_of(answer) == "ok"
    assert len(backends.calls) == 2


def test_every_tag_is_given_wrong_answers_to_survive():
    # A new tag in TAGS without WRONG_SHAPES would skip the checks below silently.
    assert set(TAGS) <= set(WRONG_SHAPES), "add the tag's wrong answers to WRONG_SHAPES"


# tag: answers of the right JSON but the wrong shape, each one the caller cannot be told about.
WRONG_SHAPES = {
    "lookup-order": [
        {"status": 3},
        {"status": None},
        {"status": "shipped", "tracking_number": 1234},
        {"status": "shipped", "estimated_delivery": 20300305},
        {"status": "shipped", "tracking_number": "1Z\x00\x07\x1b[31m\r\nINJECT"},
        {"status": ""},
        {"status": "shipped", "tracking_number": "1Z\udc80"},  # a lone surrogate: no UTF-8 for it
        [ORDER],
    ],
    "process-return": [
        {"return_id": 7, "refund_amount": 89.99},
        {"return_id": "RET-7", "refund_amount": "89.99"},
        {"return_id": "RET-7", "refund_amount": True},
        {"return_id": "RET-7", "refund_amount": 1.0, "currency": ["USD"]},
        {"return_id": "", "refund_amount": 89.99},
        {"return_id": "RET-7", "refund_amount": 10**400},
        {"return_id": "RET-7", "refund_amount": -5.0},  # not "you'll get minus $5.00 back"
        [RETURN],
    ],
    "check-inventory": [
        {"name": "Shoe", "quantity": "3"},
        {"name": "Shoe", "quantity": 2.5},
        {"name": "Shoe", "quantity": True},
        {"name": 100, "quantity": 1},
        [STOCK],
    ],
    "get-customer-info": [
        CUSTOMERS[0],
        ["CUS-1001"],
        [{"id": "CUS-1001"}],
        [{"id": True, "name": "Ada Lovelace"}],
        [None, None],  # not "more than one account"
        [1, "a"],
        [{"id": "CUS-1001", "name": "Ada" * 400}],
    ],
    "account-balance": [
        {"currency": "USD", "balance": "2543.17", "available_balance": 2543.17},
        {"currency": 840, "balance": 1, "available_balance": 1},
        {"currency": "USD", "balance": 1},
        {**ACCOUNT, "balance": float("inf")},  # responses writes it as Infinity: not JSON
        {**ACCOUNT, "balance": 10**400},
        [ACCOUNT],
    ],
    "recent-transactions": [
        {"transactions": {"0": HISTORY["transactions"][0]}},
        {"transactions": "none"},
        {},
        {"transactions": ["Coffee Corner"]},
        {"transactions": [{**HISTORY["transactions"][0], "amount": "-4.50"}]},
        {"transactions": [{**HISTORY["transactions"][0], "date": None}]},
    ],
    "book-appointment": [{"confirmation_id": 2002}, {}, ["APT-2002"]],
    "get-weather": [
        {"location": "Paris", "current": REPORT["current"]},
        {"location": {"name": "Paris"}, "current": {"temp_c": "18", "condition": {"text": "Sunny"}}},
        {"location": {"name": "Paris"}, "current": {"temp_c": 18, "condition": "Sunny"}},
        {"location": {"name": "Paris"}, "current": []},
    ],
}


@pytest.mark.parametrize(
    ("tag", "wrong"),
    [(tag, wrong) for tag, answers in WRONG_SHAPES.items() for wrong in answers],
    ids=lambda value: value if isinstance(value, str) else json.dumps(value)[:40],
)
def test_an_answer_of_the_wrong_shape_is_unreadable_not_a_crash(backends, tag, wrong):
    params, _, system, _, _ = TAGS[tag]
    mock_call(backends, tag, json=wrong, status=201 if tag in SIDE_EFFECT_TAGS else 200)

    answer = resolve(tag, params)

    # After a write went through (201), an unreadable confirmation is no reason to try again.
    said = UNCONFIRMED if tag in SIDE_EFFECT_TAGS else UNREADABLE
    assert texts_of(answer) == [said.format(system=system)]
    assert outcome_of(answer) == "bad-backend-data"
    assert len(backends.calls) == 1


# An answer about something other than what was asked: a backend, proxy or cache out of step
# (or a connection read out of turn) must not have one caller hear another's data.
ANOTHER_ONES = {
    "lookup-order": {**ORDER, "order_id": "ORD-1001"},
    "check-inventory": {**STOCK, "product_id": "SKU-200"},
    "get-customer-info": [{**CUSTOMERS[0], "email": "grace@example.com"}],
    "account-balance": {**ACCOUNT, "account_id": "ACC-87654321"},
    "recent-transactions": {**HISTORY, "account_id": "ACC-87654321"},
}


@pytest.mark.parametrize("tag", sorted(ANOTHER_ONES))
def test_an_answer_about_another_record_is_never_read_out(backends, tag):
    params, _, system, _, _ = TAGS[tag]
    mock_call(backends, tag, json=ANOTHER_ONES[tag])

    answer = resolve(tag, params)

    assert texts_of(answer) == [UNREADABLE.format(system=system)]
    assert outcome_of(answer) == "bad-backend-data"


@pytest.mark.parametrize("tag", ["check-inventory", "get-weather"])
def test_a_cached_answer_that_fails_its_checks_is_not_served_again(backends, tag):
    params, _, _system, good, sentence = TAGS[tag]
    mock_call(backends, tag, json=WRONG_SHAPES[tag][0])
    mock_call(backends, tag, json=good)  # the backend, mended

    assert outcome_of(resolve(tag, params)) == "bad-backend-data"
    assert texts_of(resolve(tag, params)) == [sentence]
    assert texts_of(resolve(tag, params)) == [sentence]  # and that answer is cached
    assert len(backends.calls) == 2


# --- Missing or unusable input: ask again, call nothing -------------------------------------------

ASK_ORDER_ID = "What's your order number? It starts with ORD, like ORD-1001."
ASK_ACCOUNT = "What's your account number? It starts with ACC and has eight digits."


@pytest.mark.parametrize(
    ("tag", "params", "sentence"),
    [
        ("lookup-order", {}, ASK_ORDER_ID),
        ("lookup-order", {"order_id": "my order"}, ASK_ORDER_ID),
        ("lookup-order", {"order_id": "ORD-12"}, ASK_ORDER_ID),
        ("lookup-order", {"order_id": "../admin"}, ASK_ORDER_ID),
        ("process-return", {"item_id": "SKU-100"}, ASK_ORDER_ID),
        ("process-return", {"order_id": "1001", "item_id": "SKU-100"}, ASK_ORDER_ID),
        ("process-return", {"order_id": "ORD-1001"}, "Which item would you like to return?"),
        ("process-return", {"order_id": "ORD-1001", "item_id": "  "}, "Which item would you like to return?"),
        (
            "check-inventory",
            {"size": "10"},
            "Which product are you looking for? The product code starts with SKU, like SKU-100.",
        ),
        ("get-customer-info", {}, "What's the email address on your account?"),
        (
            "get-customer-info",
            {"customer_email": "ada lovelace"},
            "What's the email address on your account?",
        ),
        ("get-customer-info", {"customer_email": "ada@example"}, "What's the email address on your account?"),
        ("account-balance", {}, ASK_ACCOUNT),
        ("account-balance", {"account_id": "12345678"}, ASK_ACCOUNT),
        ("account-balance", {"account_id": "ACC-1234"}, ASK_ACCOUNT),
        ("recent-transactions", {"account_number": "ACC-1234-5678-9"}, ASK_ACCOUNT),
        ("get-weather", {}, "Which city would you like the weather for?"),
        (
            "get-weather",
            {"city": {"admin-area": "Île-de-France"}},
            "Which city would you like the weather for?",
        ),
        (
            "book-appointment",
            {},
            "To book, I still need the service, the date, the time and your name.",
        ),
        (
            "book-appointment",
            {"service": "haircut", "date": "someday", "time": "10:30", "customer_name": "Ada"},
            "To book, I still need the date.",
        ),
        (
            "book-appointment",
            {"date": LATER.isoformat(), "time": "noonish"},
            "To book, I still need the service, the time and your name.",
        ),
    ],
    ids=lambda value: json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else None,
)
def test_missing_or_unusable_input_is_asked_for_without_calling_a_backend(backends, tag, params, sentence):
    answer = resolve(tag, params)

    assert texts_of(answer) == [sentence]
    assert session_params(answer) == {"webhook_outcome": "invalid-input", **cleared(tag)}
    assert len(backends.calls) == 0


# --- validate-order-id ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heard", "order_id"),
    [
        ("ORD-1002", "ORD-1002"),
        ("ord 1002", "ORD-1002"),
        ("ORD1002", "ORD-1002"),
        ("ord_1002", "ORD-1002"),
        ("ORD - 1002", "ORD-1002"),
        ("ORD -1002", "ORD-1002"),
        ("ORD \u2013 1002", "ORD-1002"),
        ("  Ord-0042 ", "ORD-0042"),
        ("ORD-1234567890", "ORD-1234567890"),
        ("ORD-\u0661\u0660\u0660\u0662", "ORD-1002"),  # Arabic-Indic digits: the store knows 0-9
        ("ORD-1002\u200b", "ORD-1002"),  # a zero-width space from a chat widget
    ],
)
def test_validate_order_id_keeps_a_well_formed_number_in_canonical_form(backends, heard, order_id):
    answer = resolve("validate-order-id", {"order_id": heard}, pageInfo=form_page("order_id", heard))

    assert texts_of(answer) == []
    assert "pageInfo" not in answer
    assert session_params(answer) == {"order_id": order_id, "webhook_outcome": "ok"}
    assert len(backends.calls) == 0


@pytest.mark.parametrize(
    "heard",
    [
        None,
        "",
        "my order",
        "1002",
        "ORD-12",
        "ORD-12345678901",
        "ORD-1002-3",
        "ORD 10 02",
        "INV-1002",
        1002.0,
    ],
)
def test_validate_order_id_asks_again_for_anything_else(backends, heard):
    answer = resolve("validate-order-id", pageInfo=form_page("order_id", heard))

    assert_asked_again(
        answer,
        "order_id",
        "That doesn't look like one of our order numbers. " + ASK_ORDER_ID,
    )
    assert len(backends.calls) == 0


# --- validate-email -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heard", "email"),
    [
        ("ada.lovelace@example.com", "ada.lovelace@example.com"),
        ("ada dot lovelace at example dot com", "ada.lovelace@example.com"),
        ("Ada.Lovelace@Example.COM", "ada.lovelace@example.com"),
        ("grace hopper at navy dot mil", "gracehopper@navy.mil"),
        ("a+b@mail.example.co.uk", "a+b@mail.example.co.uk"),
    ],
)
def test_validate_email_keeps_a_usable_address_as_written(backends, heard, email):
    answer = resolve("validate-email", pageInfo=form_page("customer_email", heard))

    assert texts_of(answer) == []
    assert "pageInfo" not in answer
    assert session_params(answer) == {"customer_email": email, "webhook_outcome": "ok"}
    assert len(backends.calls) == 0


@pytest.mark.parametrize(
    "heard",
    [None, "", "ada lovelace", "ada@example", "ada at example dot c", "a@b@c.com", "@example.com", 42.0],
)
def test_validate_email_asks_again_for_anything_else(backends, heard):
    answer = resolve("validate-email", pageInfo=form_page("customer_email", heard))

    assert_asked_again(
        answer,
        "customer_email",
        "Sorry, I didn't catch a valid email address. Could you say it again, slowly?",
    )
    assert len(backends.calls) == 0


# --- validate-appointment-date --------------------------------------------------------------------


def sys_date(date):
    """A date as @sys.date resolves it: numbers as floats."""
    return {"year": float(date.year), "month": float(date.month), "day": float(date.day)}


@pytest.mark.parametrize("days_ahead", [0, 1, 30, 90])
@pytest.mark.parametrize("shape", [sys_date, datetime.date.isoformat], ids=["sys.date", "iso"])
def test_validate_appointment_date_keeps_today_up_to_ninety_days_ahead(backends, days_ahead, shape):
    date = in_days(days_ahead)

    answer = resolve("validate-appointment-date", pageInfo=form_page("date", shape(date)))

    assert texts_of(answer) == []
    assert "pageInfo" not in answer
    assert session_params(answer) == {"webhook_outcome": "ok"}  # the date stays in the agent's shape
    assert len(backends.calls) == 0


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (lambda: None, "Sorry, I didn't catch the date."),
        (lambda: "next blue moon", "Sorry, I didn't catch the date."),
        (lambda: {"year": 2030.0, "month": 2.0, "day": 30.0}, "Sorry, I didn't catch the date."),
        (lambda: sys_date(in_days(-1)), "Yesterday has already passed."),
        (lambda: sys_date(in_days(-10)), lambda: f"{weekday_spoken(in_days(-10))} has already passed."),
        (lambda: sys_date(in_days(91)), "We can only book up to 90 days ahead."),
    ],
    ids=["missing", "unreadable", "no such day", "yesterday", "ten days ago", "91 days ahead"],
)
def test_validate_appointment_date_asks_again_for_a_date_that_cannot_be_booked(backends, value, problem):
    problem = problem() if callable(problem) else problem

    answer = resolve("validate-appointment-date", pageInfo=form_page("date", value()))

    assert_asked_again(answer, "date", f"{problem} What day would you like to come in?")
    assert len(backends.calls) == 0


# --- lookup-order ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "sentence"),
    [
        (
            {"status": "shipped", "tracking_number": "1Z999", "estimated_delivery": "2030-03-05"},
            "Your order ORD-1002 has shipped and should arrive on Tuesday, March 5, 2030. The tracking number is 1Z999.",
        ),
        ({"status": "shipped", "tracking_number": None}, "Your order ORD-1002 has shipped."),
        (
            {"status": "shipped", "estimated_delivery": "2030-03-05T18:00:00Z"},
            "Your order ORD-1002 has shipped and should arrive on Tuesday, March 5, 2030.",
        ),
        (
            {"status": "delivered", "delivered_on": "2030-03-05"},
            "Your order ORD-1002 was delivered on Tuesday, March 5, 2030.",
        ),
        ({"status": "delivered"}, "Your order ORD-1002 was delivered."),
        ({"status": "processing"}, "Your order ORD-1002 is being prepared and hasn't shipped yet."),
        ({"status": "cancelled"}, "Your order ORD-1002 was cancelled."),
        ({"status": "out_for_delivery"}, "Your order ORD-1002 is out for delivery."),
    ],
    ids=[
        "shipped with a date and tracking",
        "shipped",
        "shipped with a timestamp",
        "delivered on a date",
        "delivered",
        "processing",
        "cancelled",
        "another status",
    ],
)
def test_lookup_order_says_where_the_order_is(backends, order, sentence):
    backends.get(f"{STORE}/orders/ORD-1002", json={"order_id": "ORD-1002", **order})

    answer = resolve("lookup-order", {"order_id": "ord 1002"})

    assert texts_of(answer) == [sentence]
    eta = order.get("estimated_delivery")
    assert session_params(answer) == {
        "order_id": "ORD-1002",
        "order_status": order["status"],
        "tracking_number": order.get("tracking_number"),
        "estimated_delivery": eta[:10] if eta else None,
        "webhook_outcome": "ok",
    }
    assert [call.request.url for call in backends.calls] == [f"{STORE}/orders/ORD-1002"]


@pytest.mark.parametrize(
    ("order", "sentence"),
    [
        (
            lambda: {"status": "shipped", "estimated_delivery": in_days(0).isoformat()},
            "Your order ORD-1002 has shipped and should arrive today.",
        ),
        (
            lambda: {"status": "shipped", "estimated_delivery": in_days(1).isoformat()},
            "Your order ORD-1002 has shipped and should arrive tomorrow.",
        ),
        (
            lambda: {"status": "delivered", "delivered_on": in_days(0).isoformat()},
            "Your order ORD-1002 was delivered today.",
        ),
        (
            lambda: {"status": "delivered", "delivered_on": in_days(-1).isoformat()},
            "Your order ORD-1002 was delivered yesterday.",
        ),
    ],
    ids=["arrives today", "arrives tomorrow", "delivered today", "delivered yesterday"],
)
def test_lookup_order_says_near_days_as_words(backends, order, sentence):
    backends.get(f"{STORE}/orders/ORD-1002", json=order())

    assert texts_of(resolve("lookup-order", {"order_id": "ORD-1002"})) == [sentence]


# --- process-return -------------------------------------------------------------------------------

RETURNS_URL = f"{STORE}/orders/ORD-1001/returns"


def test_process_return_sends_the_item_and_reason_and_says_the_refund(backends):
    backends.post(
        RETURNS_URL, status=201, json={"return_id": "RET-7", "refund_amount": 1250.5, "currency": "EUR"}
    )

    answer = resolve(
        "process-return", {"order_id": "ord 1001", "item_id": "SKU-300", "return_reason": "too big"}
    )

    assert texts_of(answer) == [
        "Your return is started. Your return number is RET-7, and you'll get €1,250.50 back "
        "within 5 to 7 business days of us receiving the item."
    ]
    assert session_params(answer) == {"return_id": "RET-7", "refund_amount": 1250.5, "webhook_outcome": "ok"}
    (call,) = backends.calls
    assert call.request.url == RETURNS_URL
    assert call.request.headers["Content-Type"] == "application/json"
    assert sent_json(call) == {"item_id": "SKU-300", "reason": "too big"}


def test_process_return_without_a_reason_or_currency_says_not_given_and_dollars(backends):
    backends.post(RETURNS_URL, status=201, json={"return_id": "RET-8", "refund_amount": 49})

    answer = resolve("process-return", {"order_id": "ORD-1001", "item_id": "SKU-300"})

    assert "you'll get $49.00 back" in texts_of(answer)[0]
    assert sent_json(backends.calls[0]) == {"item_id": "SKU-300", "reason": "not given"}


@pytest.mark.parametrize(
    ("heard", "sent"), [("sku 300", "SKU-300"), ("Sku_300", "SKU-300"), ("BX-9", "BX-9")]
)
def test_process_return_writes_a_product_code_as_check_inventory_reads_it(backends, heard, sent):
    backends.post(RETURNS_URL, status=201, json={"return_id": "RET-8", "refund_amount": 49})

    resolve("process-return", {"order_id": "ORD-1001", "item_id": heard})

    assert sent_json(backends.calls[0])["item_id"] == sent


RETURN_REFUSALS = {
    "return-window-closed": "That order was delivered more than 30 days ago, so it's outside our return window.",
    "not-delivered": "That order hasn't been delivered yet, so it can't be returned. "
    "Once it arrives, I can help you return it.",
    "item-not-in-order": "I couldn't find that item in order ORD-1001. Could you check the item number?",
    "already-returned": "There's already a return for that item.",
}


def flat_error(code):
    return {"error": f"{SECRET}: {code}", "code": code}


def nested_error(code):
    return {"error": {"code": code, "message": SECRET}}


@pytest.mark.parametrize("error_body", [flat_error, nested_error], ids=["code", "error.code"])
@pytest.mark.parametrize("code", RETURN_REFUSALS)
def test_process_return_words_each_refusal_of_the_store(backends, code, error_body):
    backends.post(RETURNS_URL, status=422, json=error_body(code))

    answer = resolve("process-return", {"order_id": "ORD-1001", "item_id": "SKU-100"})

    assert texts_of(answer) == [RETURN_REFUSALS[code]]
    assert outcome_of(answer) == "rejected"
    assert len(backends.calls) == 1


# --- book-appointment -----------------------------------------------------------------------------

APPOINTMENTS_URL = f"{BOOKING}/appointments"


@pytest.mark.parametrize(
    ("service", "spoken"), [("dental-cleaning", "a dental cleaning"), ("eye-exam", "an eye exam")]
)
def test_book_appointment_says_the_service_as_words(backends, service, spoken):
    # The agent's entity may resolve to its id ("dental-cleaning"): said aloud, it is words.
    backends.post(APPOINTMENTS_URL, status=201, json={"confirmation_id": "APT-2002"})
    params = {"service": service, "date": sys_date(LATER), "time": "10:30", "customer_name": "Ada"}

    (sentence,) = texts_of(resolve("book-appointment", params))

    assert sentence.startswith(f"You're booked for {spoken} on {LATER_SPOKEN} at 10:30 AM.")


def test_book_appointment_books_with_what_the_caller_gave_and_confirms(backends):
    backends.post(APPOINTMENTS_URL, status=201, json={"confirmation_id": "APT-2002"})

    answer = resolve(
        "book-appointment",
        {
            "service": "Dental Cleaning",
            "date": sys_date(LATER),
            "time": {"hours": 14.0, "minutes": 30.0, "seconds": 0.0, "nanos": 0.0},
            "customer_name": "Ada Lovelace",
            "customer_email": "ada@example.com",
        },
        payload={"telephony": {"caller_id": "+15555550100"}},
    )

    assert answer["fulfillmentResponse"]["messages"] == [
        {
            "text": {
                "text": [
                    f"You're booked for a dental cleaning on {LATER_SPOKEN} at 2:30 PM. "
                    "Your confirmation number is APT-2002."
                ]
            }
        },
        {"conversationSuccess": {"metadata": {"booked": "dental-cleaning"}}},
    ]
    assert session_params(answer) == {
        "confirmation_id": "APT-2002",
        "appointment_date": "2030-03-05",
        "appointment_time": "14:30",
        "webhook_outcome": "ok",
    }
    (call,) = backends.calls
    assert call.request.url == APPOINTMENTS_URL
    assert call.request.headers["Authorization"] == f"Bearer {BOOKING_TOKEN}"
    assert sent_json(call) == {
        "service": "dental-cleaning",
        "date": "2030-03-05",
        "time": "14:30",
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+15555550100"},
    }


def test_book_appointment_tomorrow_is_said_as_tomorrow_and_a_given_phone_wins(backends):
    backends.post(APPOINTMENTS_URL, status=201, json={"confirmation_id": "APT-2003"})

    answer = resolve(
        "book-appointment",
        {
            "service": "haircut",
            "date": sys_date(in_days(1)),
            "time": "10 am",
            "customer_phone": "+441234",
            "customer_name": "Ada",
        },
        payload={"telephony": {"caller_id": "+15555550100"}},
    )

    assert texts_of(answer) == [
        "You're booked for a haircut tomorrow at 10 AM. Your confirmation number is APT-2003."
    ]
    assert sent_json(backends.calls[0])["customer"] == {"name": "Ada", "email": "", "phone": "+441234"}


BOOKING_REFUSALS = {
    "slot-taken": "That time is already taken. Would another time that day work?",
    "outside-hours": "We're open from 9 AM to 5 PM, with appointments every half hour. What time would suit you?",
    "date-in-past": "That date has already passed. What day would you like to come in?",
    "unknown-service": "I'm sorry, we don't offer that service. We can book a haircut, a consultation, "
    "a dental cleaning or a car service.",
}


def test_book_appointment_today_at_an_hour_gone_says_the_time_has_passed(backends):
    backends.post(APPOINTMENTS_URL, status=422, json={"code": "date-in-past"})

    answer = resolve(
        "book-appointment",
        {
            "service": "haircut",
            "date": datetime.date.today().isoformat(),
            "time": "09:00",
            "customer_name": "Ada",
        },
    )

    assert texts_of(answer) == [
        "That time has already passed today. What later time, or which other day, would suit you?"
    ]


@pytest.mark.parametrize("error_body", [flat_error, nested_error], ids=["code", "error.code"])
@pytest.mark.parametrize("code", BOOKING_REFUSALS)
def test_book_appointment_words_each_refusal_of_the_booking_system(backends, code, error_body):
    backends.post(APPOINTMENTS_URL, status=422, json=error_body(code))

    answer = resolve(
        "book-appointment",
        {"service": "haircut", "date": LATER.isoformat(), "time": "10:00", "customer_name": "Ada"},
    )

    assert texts_of(answer) == [BOOKING_REFUSALS[code]]
    assert outcome_of(answer) == "rejected"
    assert len(backends.calls) == 1


# --- A side effect happens once per turn ----------------------------------------------------------


@pytest.mark.parametrize("tag", SIDE_EFFECT_TAGS)
def test_the_same_turn_resolved_twice_acts_once_and_answers_the_same(backends, tag):
    params, _, _, good, sentence = TAGS[tag]
    mock_call(backends, tag, status=201, json=good)
    turn = f"turn-{uuid.uuid4()}"

    first = resolve(tag, params, turn=turn)
    again = resolve(tag, params, turn=turn)

    assert texts_of(first) == [sentence]
    assert again == first
    assert len(backends.calls) == 1


@pytest.mark.parametrize("tag", SIDE_EFFECT_TAGS)
def test_a_turn_sent_again_after_a_failure_is_answered_from_memory_not_sent_again(backends, tag):
    # A 503 may come after the backend acted: the turn's answer repeats, the write does not.
    params, _, system, good, sentence = TAGS[tag]
    mock_call(backends, tag, status=503, json={"error": SECRET})
    mock_call(backends, tag, status=201, json=good)
    turn = f"turn-{uuid.uuid4()}"

    failed = resolve(tag, params, turn=turn)
    again = resolve(tag, params, turn=turn)
    other_turn = resolve(tag, params)

    assert texts_of(failed) == [UNCONFIRMED.format(system=system)]
    assert again == failed
    assert texts_of(other_turn) == [sentence]
    keys = [call.request.headers["Idempotency-Key"] for call in backends.calls]
    assert len(keys) == 2 and keys[0] != keys[1]
    assert turn not in keys[0]


def test_two_returns_asked_in_one_turn_carry_two_idempotency_keys(backends):
    backends.post(RETURNS_URL, status=201, json=RETURN)
    turn = f"turn-{uuid.uuid4()}"

    resolve("process-return", {"order_id": "ORD-1001", "item_id": "SKU-300"}, turn=turn)
    resolve("process-return", {"order_id": "ORD-1001", "item_id": "SKU-200"}, turn=turn)

    keys = [call.request.headers["Idempotency-Key"] for call in backends.calls]
    assert len(keys) == 2 and keys[0] != keys[1]  # one key, one payload: the backend can tell them apart


# --- account-balance ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "sentence"),
    [
        ({"currency": "USD", "balance": 2543.17, "available_balance": 2543.17}, "Your balance is $2,543.17."),
        (
            {"currency": "USD", "balance": 2543.17, "available_balance": 2343.17},
            "Your balance is $2,543.17, and $2,343.17 of it is available to spend.",
        ),
        ({"currency": "EUR", "balance": 120, "available_balance": 120}, "Your balance is €120.00."),
        ({"currency": "GBP", "balance": 0, "available_balance": 0}, "Your balance is £0.00."),
        ({"currency": "USD", "balance": -45.5, "available_balance": -45.5}, "Your balance is minus $45.50."),
        ({"currency": "CHF", "balance": 1000, "available_balance": 1000}, "Your balance is 1,000.00 CHF."),
    ],
    ids=["usd", "pending payments", "eur", "gbp zero", "overdrawn", "other currency"],
)
def test_account_balance_says_the_balance_in_its_currency(backends, account, sentence):
    backends.get(f"{BANK}/accounts/ACC-12345678", json={"account_id": "ACC-12345678", **account})

    answer = resolve("account-balance", {"account_id": "ACC-12345678"})

    assert texts_of(answer) == [sentence]
    assert session_params(answer) == {
        "account_id": "ACC-12345678",
        "balance": account["balance"],
        "available_balance": account["available_balance"],
        "webhook_outcome": "ok",
    }


@pytest.mark.parametrize(
    "params",
    [{"account_id": "acc 1234 5678"}, {"account_id": "ACC12345678"}, {"account_number": "ACC-12345678"}],
)
def test_account_numbers_are_read_as_spoken(backends, params):
    backends.get(f"{BANK}/accounts/ACC-12345678", json=ACCOUNT)

    assert outcome_of(resolve("account-balance", params)) == "ok"
    assert [call.request.url for call in backends.calls] == [f"{BANK}/accounts/ACC-12345678"]


# --- recent-transactions --------------------------------------------------------------------------

TRANSACTIONS_URL = f"{BANK}/accounts/ACC-12345678/transactions"


def transaction(date, description, amount, currency="USD"):
    return {"id": "TXN", "date": date, "description": description, "amount": amount, "currency": currency}


def test_recent_transactions_reads_the_last_ones_newest_first(backends):
    backends.get(
        TRANSACTIONS_URL,
        json={
            "transactions": [
                transaction(in_days(0).isoformat(), "Coffee Corner", -4.5),
                transaction(in_days(-1).isoformat(), "Salary", 3200),
                transaction("2030-03-05", "Train ticket", -30, "EUR"),
                transaction("sometime", "Bookshop", -12.99),
            ]
        },
    )

    answer = resolve("recent-transactions", {"account_id": "ACC-12345678"})

    lines = [
        "today, minus $4.50 at Coffee Corner",
        "yesterday, plus $3,200.00, Salary",
        f"{LATER_SPOKEN}, minus €30.00 at Train ticket",
        "recently, minus $12.99 at Bookshop",
    ]
    assert texts_of(answer) == ["Here are your last 4 transactions: " + "; ".join(lines) + "."]
    assert answer["fulfillmentResponse"]["messages"][1] == {
        "payload": {"richContent": [[{"type": "description", "title": "Recent transactions", "text": lines}]]}
    }
    assert session_params(answer) == {"transaction_count": 4, "webhook_outcome": "ok"}
    assert backends.calls[0].request.url == f"{TRANSACTIONS_URL}?limit=5"


def test_recent_transactions_says_at_most_five(backends):
    history = [transaction("2030-03-05", f"Shop {n}", -1) for n in range(1, 8)]
    backends.get(TRANSACTIONS_URL, json={"transactions": history})

    answer = resolve("recent-transactions", {"account_id": "ACC-12345678"})

    assert texts_of(answer)[0].startswith("Here are your last 5 transactions: ")
    assert "Shop 5" in texts_of(answer)[0] and "Shop 6" not in texts_of(answer)[0]
    assert session_params(answer)["transaction_count"] == 5


def test_recent_transactions_on_an_empty_account_says_there_are_none(backends):
    backends.get(TRANSACTIONS_URL, json={"account_id": "ACC-12345678", "transactions": []})

    answer = resolve("recent-transactions", {"account_id": "ACC-12345678"})

    assert texts_of(answer) == ["There are no recent transactions on that account."]
    assert session_params(answer) == {"transaction_count": 0, "webhook_outcome": "ok"}


# --- get-customer-info ----------------------------------------------------------------------------


def test_get_customer_info_looks_up_the_spoken_email_and_greets_by_first_name(backends):
    backends.get(f"{STORE}/customers", json=[{**CUSTOMERS[0], "email": "Ada.Lovelace@example.com"}])

    answer = resolve("get-customer-info", {"customer_email": "Ada dot Lovelace at Example dot com"})

    assert texts_of(answer) == ["Thanks, Ada. I found your account."]
    assert session_params(answer) == {
        "customer_name": "Ada Lovelace",
        "customer_id": "CUS-1001",
        "customer_match_count": None,  # an earlier ambiguous lookup's count does not survive
        "webhook_outcome": "ok",
    }
    assert backends.calls[0].request.url == f"{STORE}/customers?email=ada.lovelace%40example.com"


def test_get_customer_info_with_no_match_says_so(backends):
    backends.get(f"{STORE}/customers", json=[])

    answer = resolve("get-customer-info", {"email": "nobody@example.com"})

    assert texts_of(answer) == ["I couldn't find an account with that email address."]
    # The last caller's identity goes too: it must not reach the next page or a human agent.
    assert session_params(answer) == {"webhook_outcome": "not-found", **cleared("get-customer-info")}


def test_get_customer_info_with_several_matches_names_no_one(backends):
    backends.get(
        f"{STORE}/customers",
        json=[{"id": "CUS-1004", "name": "Jane Smith"}, {"id": "CUS-1005", "name": "John Smith"}],
    )

    answer = resolve("get-customer-info", {"customer_email": "smith.family@example.com"})

    # Reading out the first match would give a caller someone else's account.
    assert texts_of(answer) == [
        "I found more than one account with that email address, so I need one more detail to be sure it's you."
    ]
    assert session_params(answer) == {
        "customer_match_count": 2,
        "webhook_outcome": "ambiguous",
        "customer_name": None,
        "customer_id": None,
    }


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("Cher", "Thanks, Cher. I found your account."),
        ("Dr. Who", "Thanks, Dr. Who. I found your account."),
        ("Lovelace, Ada", "Thanks, Ada. I found your account."),  # once "Thanks, Lovelace,."
        ("Lovelace,", "Thanks, Lovelace. I found your account."),
        (" . ", "Thanks. I found your account."),
    ],
)
def test_get_customer_info_greets_whatever_name_there_is(backends, name, sentence):
    backends.get(f"{STORE}/customers", json=[{"id": 1001, "name": name}])

    answer = resolve("get-customer-info", {"customer_email": "c@example.com"})

    assert texts_of(answer) == [sentence]
    assert session_params(answer)["customer_id"] == 1001


# --- check-inventory ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "quantity", "query", "sentence"),
    [
        (
            {"product_id": "sku-100", "size": "9", "color": "blue"},
            3,
            "product_id=SKU-100&size=9&color=blue",
            "Good news: the blue Trail Running Shoe in size 9 is in stock, with 3 available.",
        ),
        (
            {"product_id": "SKU-100", "size": 10.0, "color": "blue"},
            0,
            "product_id=SKU-100&size=10&color=blue",
            "Sorry, the blue Trail Running Shoe in size 10 is out of stock right now.",
        ),
        (
            {"product_id": "SKU-100"},
            0,
            "product_id=SKU-100",
            "Sorry, the Trail Running Shoe is out of stock right now.",
        ),
        (
            {"product_id": "SKU-100", "color": "black"},
            13,
            "product_id=SKU-100&color=black",
            "Good news: the black Trail Running Shoe is in stock, with 13 available.",
        ),
    ],
    ids=["in stock", "variant out of stock", "sold out", "colour only"],
)
def test_check_inventory_asks_for_the_variant_and_says_if_it_is_in_stock(
    backends, params, quantity, query, sentence
):
    backends.get(f"{STORE}/inventory", json={"name": "Trail Running Shoe", "quantity": quantity})

    answer = resolve("check-inventory", params)

    assert texts_of(answer) == [sentence]
    assert session_params(answer) == {"in_stock": quantity > 0, "quantity": quantity, "webhook_outcome": "ok"}
    assert backends.calls[0].request.url == f"{STORE}/inventory?{query}"


SHOE_VARIANTS = [
    {"size": "9", "color": "blue", "quantity": 3},
    {"size": "10", "color": "black", "quantity": 0},
]


@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        (
            {"size": "11", "color": "purple"},
            "Sorry, we don't have the Trail Running Shoe in purple in size 11.",
        ),
        ({"size": "11"}, "Sorry, we don't have the Trail Running Shoe in size 11."),
        ({"size": "10", "color": "blue"}, "Sorry, we don't have the Trail Running Shoe in blue in size 10."),
    ],
)
def test_check_inventory_never_calls_a_variant_that_is_not_made_out_of_stock(backends, params, sentence):
    backends.get(
        f"{STORE}/inventory", json={"name": "Trail Running Shoe", "quantity": 0, "variants": SHOE_VARIANTS}
    )

    answer = resolve("check-inventory", {"product_id": "SKU-100", **params})

    assert texts_of(answer) == [sentence]
    assert session_params(answer) == {"in_stock": None, "quantity": None, "webhook_outcome": "not-found"}


def test_check_inventory_reads_a_listed_variant_and_one_size_as_usual(backends):
    backends.get(
        f"{STORE}/inventory", json={"name": "Trail Running Shoe", "quantity": 0, "variants": SHOE_VARIANTS}
    )
    assert texts_of(
        resolve("check-inventory", {"product_id": "SKU-100", "size": "10", "color": "Black"})
    ) == ["Sorry, the Black Trail Running Shoe in size 10 is out of stock right now."]

    backends.get(f"{STORE}/inventory", json={"name": "Canvas Tote Bag", "quantity": 9})
    assert texts_of(
        resolve("check-inventory", {"product_id": "SKU-300", "size": "One Size", "color": "black"})
    ) == ["Good news: the black Canvas Tote Bag is in stock, with 9 available."]


def test_check_inventory_without_a_product_name_says_the_code(backends):
    backends.get(f"{STORE}/inventory", json={"quantity": 2})

    assert texts_of(resolve("check-inventory", {"product_id": "SKU-100"})) == [
        "Good news: the SKU-100 is in stock, with 2 available."
    ]


def test_check_inventory_answers_the_same_question_from_memory_for_a_minute(backends):
    backends.get(f"{STORE}/inventory", json=STOCK)

    first = resolve("check-inventory", {"product_id": "SKU-100", "size": "9"})
    again = resolve("check-inventory", {"product_id": "SKU-100", "size": "9"})
    other_size = resolve("check-inventory", {"product_id": "SKU-100", "size": "10"})

    assert texts_of(first) == texts_of(again)
    assert outcome_of(other_size) == "ok"
    assert len(backends.calls) == 2


# --- get-weather ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temp_c", "degrees"), [(17.6, 18), (-3.4, -3), (0.2, 0)], ids=["rounds up", "below zero", "zero"]
)
def test_get_weather_says_the_rounded_temperature_and_the_condition(backends, temp_c, degrees):
    backends.get(
        f"{WEATHER}/weather/current",
        json={
            "location": {"name": "New York"},
            "current": {"temp_c": temp_c, "condition": {"text": "Light Snow"}},
        },
    )

    answer = resolve("get-weather", {"city": "new york"})

    assert texts_of(answer) == [f"Right now in New York it's {degrees} degrees Celsius and light snow."]
    assert session_params(answer) == {
        "weather_city": "New York",
        "temperature_c": degrees,
        "weather_condition": "light snow",
        "webhook_outcome": "ok",
    }
    (call,) = backends.calls
    assert call.request.url == f"{WEATHER}/weather/current?city=New+York"
    assert call.request.headers["X-API-Key"] == WEATHER_KEY


def test_get_weather_asks_the_paid_api_once_per_city_in_ten_minutes(backends):
    backends.get(f"{WEATHER}/weather/current", json=REPORT)

    resolve("get-weather", {"city": "Paris"})
    resolve("get-weather", {"city": "paris"})

    assert len(backends.calls) == 1


# --- transfer-to-agent ----------------------------------------------------------------------------

HANDOFF_SENTENCE = "Let me connect you with a member of our team. One moment, please."


def test_transfer_to_agent_hands_off_with_the_reason_and_the_topics_of_the_call(backends):
    answer = resolve(
        "transfer-to-agent",
        {
            "handoff_reason": "billing question",
            "order_id": "ORD-1002",
            "account_id": "ACC-12345678",
            "customer_email": "ada@example.com",
        },
    )

    assert answer["fulfillmentResponse"]["messages"] == [
        {"text": {"text": [HANDOFF_SENTENCE]}},
        {
            "liveAgentHandoff": {
                "metadata": {
                    "reason": "billing question",
                    "order_id": "ORD-1002",
                    "account_id": "ACC-12345678",
                }
            }
        },
    ]
    assert session_params(answer) == {"handoff_requested": True, "webhook_outcome": "ok"}
    assert len(backends.calls) == 0


@pytest.mark.parametrize(
    ("number", "caller_id", "transferred"),
    [
        ("+15555550123", "+15555550100", True),
        ("+15555550123", None, False),
        (None, "+15555550100", False),
        ("   ", "+15555550100", False),
    ],
    ids=["phone call with a number", "chat with a number", "phone call without a number", "blank number"],
)
def test_transfer_to_agent_transfers_only_a_phone_call_and_only_to_a_configured_number(
    backends, monkeypatch, number, caller_id, transferred
):
    if number is not None:
        monkeypatch.setenv("HANDOFF_PHONE_NUMBER", number)
    payload = {"payload": {"telephony": {"caller_id": caller_id}}} if caller_id else {}

    answer = resolve("transfer-to-agent", {}, **payload)

    messages = answer["fulfillmentResponse"]["messages"]
    assert messages[:2] == [
        {"text": {"text": [HANDOFF_SENTENCE]}},
        {"liveAgentHandoff": {"metadata": {"reason": "caller asked for a person"}}},
    ]
    assert messages[2:] == (
        [{"telephonyTransferCall": {"phoneNumber": "+15555550123"}}] if transferred else []
    )
    assert outcome_of(answer) == "ok"
    assert len(backends.calls) == 0


def test_dates_are_spoken_in_english_relative_to_today():
    import datetime

    from handlers._words import day, on_day

    today = datetime.date(2026, 11, 24)
    assert [on_day(today + datetime.timedelta(days=n), today) for n in (-1, 0, 1)] == [
        "yesterday",
        "today",
        "tomorrow",
    ]
    assert day(datetime.date(2026, 11, 30), today) == "Monday, November 30"
    assert on_day(datetime.date(2027, 1, 3), today) == "on Sunday, January 3"


# --- how dates sound --------------------------------------------------------------------------------


def test_a_date_more_than_half_a_year_away_is_said_with_its_year():
    from handlers._words import day

    today = datetime.date(2026, 11, 24)
    assert day(datetime.date(2026, 12, 3), today) == "Thursday, December 3"
    assert day(datetime.date(2027, 1, 7), today) == "Thursday, January 7"
    assert day(datetime.date(2030, 6, 14), today) == "Friday, June 14, 2030"
    assert day(datetime.date(2025, 10, 10), today) == "Friday, October 10, 2025"


# --- form validation: what the form itself says ------------------------------------------------------


def empty_form_page(parameter):
    page = form_page(parameter, None)
    info = page["formInfo"]["parameterInfo"][0]
    info["state"], info["justCollected"] = "EMPTY", False
    return page


@pytest.mark.parametrize(
    ("tag", "parameter"),
    [
        ("validate-order-id", "order_id"),
        ("validate-email", "customer_email"),
        ("validate-appointment-date", "date"),
    ],
)
def test_a_validator_called_before_the_caller_answered_judges_nothing(backends, tag, parameter):
    answer = resolve(tag, pageInfo=empty_form_page(parameter))

    assert texts_of(answer) == []  # not "that doesn't look like one of our order numbers"
    assert "pageInfo" not in answer
    assert session_params(answer) == {"webhook_outcome": "no-input"}


def test_validate_email_invalidates_the_parameter_the_email_came_in(backends):
    answer = resolve("validate-email", pageInfo=form_page("email", "not an address"))

    assert_asked_again(
        answer, "email", "Sorry, I didn't catch a valid email address. Could you say it again, slowly?"
    )
    good = resolve("validate-email", pageInfo=form_page("email", "Ada at example dot com"))
    assert session_params(good) == {"email": "ada@example.com", "webhook_outcome": "ok"}


def test_an_invalidated_parameter_keeps_the_forms_spelling_and_optionality(backends):
    page = form_page("Order_ID", "my order")
    page["formInfo"]["parameterInfo"][0]["required"] = False

    answer = resolve("validate-order-id", pageInfo=page)

    assert answer["pageInfo"]["formInfo"]["parameterInfo"] == [
        {"displayName": "Order_ID", "required": False, "state": "INVALID"}
    ]
    assert session_params(answer) == {"Order_ID": None, "webhook_outcome": "invalid-input"}


@pytest.mark.parametrize("heard", ["ACC-1234-5678", "ACC \u2013 12345678", "acc 1234 5678", "ACC_12345678"])
def test_an_account_number_is_read_however_its_digits_are_grouped(backends, heard):
    backends.get(f"{BANK}/accounts/ACC-12345678", json=ACCOUNT)

    assert outcome_of(resolve("account-balance", {"account_id": heard})) == "ok"


@pytest.mark.parametrize("heard", ["SKU \u2013 100", "sku_100", "SKU100", " sku - 100 "])
def test_a_product_code_is_read_however_it_was_typed_or_heard(backends, heard):
    backends.get(f"{STORE}/inventory", json=STOCK)

    assert outcome_of(resolve("check-inventory", {"product_id": heard})) == "ok"
    assert backends.calls[0].request.url.endswith("product_id=SKU-100")


def test_money_never_says_minus_nothing():
    from handlers._words import money

    assert money(-0.004) == "$0.00" and money(-3, "EUR") == "minus €3.00" and money(7, "NOK") == "7.00 NOK"


def test_one_degree_is_singular(backends):
    backends.get(
        f"{WEATHER}/weather/current", json={**REPORT, "current": {**REPORT["current"], "temp_c": -1.2}}
    )

    assert texts_of(resolve("get-weather", {"city": "Oslo"})) == [
        "Right now in Paris it's -1 degree Celsius and partly cloudy."
    ]


@pytest.mark.parametrize("name", ["Dr. Grace Hopper", "Hopper, Dr. Grace"])
def test_a_title_goes_with_the_last_name(backends, name):
    backends.get(f"{STORE}/customers", json=[{"id": "CUS-1", "name": name}])

    assert texts_of(resolve("get-customer-info", {"customer_email": "grace@example.com"})) == [
        "Thanks, Dr. Hopper. I found your account."
    ]


def test_a_late_order_is_not_said_to_arrive_in_the_past(backends):
    backends.get(
        f"{STORE}/orders/ORD-1002", json={**ORDER, "status": "shipped", "estimated_delivery": "2020-03-05"}
    )

    (sentence,) = texts_of(resolve("lookup-order", {"order_id": "ORD-1002"}))
    assert sentence.startswith(
        "Your order ORD-1002 has shipped and was due to arrive on Thursday, March 5, 2020."
    )


# --- the agent's calendar ---------------------------------------------------------------------------


@pytest.fixture
def agent_time_zone(monkeypatch):
    from fulfillment import clock

    def set_zone(name):
        monkeypatch.setenv("AGENT_TIME_ZONE", name)
        clock.reset()

    yield set_zone
    monkeypatch.delenv("AGENT_TIME_ZONE", raising=False)
    clock.reset()


def test_today_is_the_agents_today_not_the_servers(backends, agent_time_zone):
    from zoneinfo import ZoneInfo

    utc_today = datetime.datetime.now(datetime.UTC).date()
    # At any hour one of these two is on another date than UTC: UTC-12 before noon, UTC+14 after 10.
    zone = (
        "Etc/GMT+12"
        if datetime.datetime.now(ZoneInfo("Etc/GMT+12")).date() != utc_today
        else "Pacific/Kiritimati"
    )
    their_today = datetime.datetime.now(ZoneInfo(zone)).date()
    assert their_today != utc_today
    asked = min(their_today, utc_today)  # today on one calendar, yesterday on the other

    agent_time_zone(zone)
    with_zone = resolve("validate-appointment-date", pageInfo=form_page("date", asked.isoformat()))
    agent_time_zone("UTC")
    in_utc = resolve("validate-appointment-date", pageInfo=form_page("date", asked.isoformat()))

    accepted = {"webhook_outcome": "ok"}
    assert (session_params(with_zone) == accepted) == (asked == their_today)
    assert (session_params(in_utc) == accepted) == (asked == utc_today)


def test_a_time_zone_that_cannot_be_loaded_is_said_and_dates_stay_utc(agent_time_zone, caplog):
    from fulfillment import clock

    agent_time_zone("Mars/Olympus_Mons")
    with caplog.at_level(logging.ERROR, logger="fulfillment"):
        assert clock.zone() is datetime.UTC
    assert "AGENT_TIME_ZONE='Mars/Olympus_Mons' cannot be used" in caplog.text


def test_validate_email_reads_the_forms_own_parameter_first(backends):
    page = form_page("email", "new@example.com")
    answer = resolve("validate-email", {"customer_email": "old@example.com"}, pageInfo=page)
    assert session_params(answer) == {"email": "new@example.com", "webhook_outcome": "ok"}

    empty = resolve(
        "validate-email", {"customer_email": "old@example.com"}, pageInfo=empty_form_page("email")
    )
    assert session_params(empty) == {"webhook_outcome": "no-input"} and "pageInfo" not in empty
