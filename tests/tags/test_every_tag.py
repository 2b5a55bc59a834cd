"""What every tag with a backend does alike: the good answer, a backend down, slow, refusing,
not finding, or answering nonsense or about another record, input it cannot use, a side
effect acted on once per turn, and the form-validation rules all validators share."""

import json
import uuid

import pytest
import requests

from fulfillment.errors import NotFound
from handlers import app
from tests.conftest import outcome_of, texts_of
from tests.tags.kit import (
    ACCOUNT,
    ASK_ACCOUNT,
    ASK_ORDER_ID,
    CUSTOMERS,
    HISTORY,
    LATER,
    ORDER,
    READ_TAGS,
    REFUSED,
    REPORT,
    RETURN,
    SECRET,
    SIDE_EFFECT_TAGS,
    STOCK,
    TAGS,
    TOO_SLOW,
    UNAVAILABLE,
    UNCONFIRMED,
    UNREADABLE,
    cleared,
    empty_form_page,
    form_page,
    mock_call,
    resolve,
    session_params,
)

# --- A good answer, in the words of each tag ----------------------------------------------------------


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
    "check-inventory": "I couldn't find a product with the code SKU-100. Could you check the code and tell me again?",
    # /customers answers a list, [] when nobody matches; a 404 there is the router's wording.
    "get-customer-info": "I'm sorry, I couldn't find that.",
    "account-balance": "I couldn't find account ACC-12345678. Could you check the number and tell me again?",
    "recent-transactions": "I couldn't find account ACC-12345678. Could you check the number and tell me again?",
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


# --- form validation: what the form itself says ------------------------------------------------------


# tag: the form parameter it validates.
VALIDATORS = {
    "validate-order-id": "order_id",
    "validate-email": "customer_email",
    "validate-appointment-date": "date",
}
# Tags with neither a backend nor a form parameter to judge, each tested in its own file.
OWN_RULES = {"transfer-to-agent"}


def test_every_tag_gets_the_shared_checks():
    # A new tag in none of these would skip every check of this file without a word.
    unchecked = set(app.tags) - set(TAGS) - set(VALIDATORS) - OWN_RULES
    assert not unchecked, (
        f"{sorted(unchecked)}: add a tag that calls a backend to TAGS (tests/tags/kit.py), "
        "a form validator to VALIDATORS here"
    )


@pytest.mark.parametrize(("tag", "parameter"), VALIDATORS.items())
def test_a_validator_called_before_the_caller_answered_judges_nothing(backends, tag, parameter):
    answer = resolve(tag, pageInfo=empty_form_page(parameter))

    assert texts_of(answer) == []  # not "that doesn't look like one of our order numbers"
    assert "pageInfo" not in answer
    assert session_params(answer) == {"webhook_outcome": "no-input"}


def test_an_invalidated_parameter_keeps_the_forms_spelling_and_optionality(backends):
    page = form_page("Order_ID", "my order")
    page["formInfo"]["parameterInfo"][0]["required"] = False

    answer = resolve("validate-order-id", pageInfo=page)

    assert answer["pageInfo"]["formInfo"]["parameterInfo"] == [
        {"displayName": "Order_ID", "required": False, "state": "INVALID"}
    ]
    assert session_params(answer) == {"Order_ID": None, "webhook_outcome": "invalid-input"}
