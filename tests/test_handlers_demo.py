"""Every tag end to end: the HTTP face, the handlers, and the demo store over real HTTP.

No backend URL is set, so each backend is the embedded demo store, reached on loopback
through the same client code as a production backend. This module runs against a store of
its own, started fresh with the sample data of ``demo_store/README.md``; dates in that data
count from today, and so do the expectations here.
"""

import datetime
import json
import os
import re
import uuid

import pytest

import demo_store
from demo_store import server as demo_store_server
from fulfillment.backend import reset
from fulfillment.replay import ReplayCache
from tests.conftest import EXAMPLES, assert_valid_response, cx_request, outcome_of, post, texts_of

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))

ALREADY_RETURNED = "There's already a return for that item."
HANDOFF_SENTENCE = "Let me connect you with a member of our team. One moment, please."


@pytest.fixture(scope="module", autouse=True)
def store():
    """A fresh demo store, standing in as the process's shared one while this module runs."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("BACKEND_") or name in ("DEMO_STORE", "HANDOFF_PHONE_NUMBER"):
                patch.delenv(name)
        fresh = demo_store.start()
        patch.setattr(demo_store_server, "_shared", fresh)
        reset()  # the backend client resolves its configuration again: the demo store, this one
        try:
            assert demo_store.shared() is fresh
            yield fresh
        finally:
            reset()
            fresh.stop()


def ask(client, body):
    """POST one WebhookRequest to the webhook; the answer, checked to be a 200 the proto accepts."""
    response = post(client, body)
    assert response.status_code == 200, response.data
    return assert_valid_response(response.data)


def turn(client, tag, params=None, **extra):
    """One new conversational turn of ``tag``."""
    return ask(client, cx_request(tag, params, response_id=f"turn-{uuid.uuid4()}", **extra))


def session_params(answer):
    return answer["sessionInfo"]["parameters"]


def in_days(days):
    return datetime.date.today() + datetime.timedelta(days=days)


def spoken(date):
    """A date as the agent says it when it is not today, tomorrow or yesterday."""
    return f"{date:%A}, {date:%B} {date.day}"


def sys_date(date):
    return {"year": float(date.year), "month": float(date.month), "day": float(date.day)}


def count(sql, *args):
    """One number from the demo store's database (the store the webhook called)."""
    with demo_store.shared().database.transaction() as conn:
        return conn.execute(sql, args).fetchone()[0]


def returns_of(order_id, item_id):
    return count("SELECT COUNT(*) FROM returns WHERE order_id = ? AND item_id = ?", order_id, item_id)


def appointments_at(service, date, time):
    return count(
        "SELECT COUNT(*) FROM appointments WHERE service = ? AND date = ? AND time = ?",
        service,
        date.isoformat(),
        time,
    )


# --- The example requests -------------------------------------------------------------------------

# The examples carry fixed calendar dates, which pass: every @sys.date in them is moved to a
# week from today, so they show what they were written to show whatever the day.
NEXT_WEEK = 7


def dated_from_today(value):
    if isinstance(value, dict):
        if set(value) == {"year", "month", "day"}:
            return sys_date(in_days(NEXT_WEEK))
        return {key: dated_from_today(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [dated_from_today(inner) for inner in value]
    return value


def example_expectations():
    """tag: (a pattern of what the caller hears, or None for nothing; session parameters set)."""
    next_week = in_days(NEXT_WEEK)
    transactions = "; ".join(
        [
            "today, Coffee Corner, minus $4.50",
            "yesterday, Grocery Mart, minus $82.34",
            f"{spoken(in_days(-2))}, Salary: Analytical Engines Ltd, plus $3,200.00",
            f"{spoken(in_days(-3))}, Electric company, minus $120.00",
            f"{spoken(in_days(-5))}, Online bookstore, minus $35.99",
        ]
    )
    return {
        "account-balance": (
            re.escape("Your balance is $2,543.17, and $2,343.17 of it is available to spend."),
            {"account_id": "ACC-12345678", "balance": 2543.17, "available_balance": 2343.17},
        ),
        "book-appointment": (
            re.escape(f"You're booked for a haircut on {spoken(next_week)} at 10:30 AM. ")
            + r"Your confirmation number is APT-\d+\.",
            {"appointment_date": next_week.isoformat(), "appointment_time": "10:30"},
        ),
        "check-inventory": (
            re.escape("Good news: the blue Trail Running Shoe in size 9 is in stock, with 3 available."),
            {"in_stock": True, "quantity": 3},
        ),
        "get-customer-info": (
            re.escape("Thanks, Ada. I found your account."),
            {"customer_name": "Ada Lovelace", "customer_id": "CUS-1001"},
        ),
        "get-weather": (
            r"Right now in Paris it's -?\d+ degrees Celsius(?: and|, with) [a-z ]+\.",
            {"weather_city": "Paris"},
        ),
        "lookup-order": (
            re.escape(
                f"Your order ORD-1002 has shipped and should arrive on {spoken(in_days(2))}. "
                "The tracking number is 1Z999AA10123456785."
            ),
            {
                "order_id": "ORD-1002",
                "order_status": "shipped",
                "tracking_number": "1Z999AA10123456785",
                "estimated_delivery": in_days(2).isoformat(),
            },
        ),
        "process-return": (
            r"I've started your return\. Your return number is RET-\d+, and you'll get \$89\.99 back "
            r"within 5 to 7 business days of us receiving the item\.",
            {"refund_amount": 89.99},
        ),
        "recent-transactions": (
            re.escape(f"Here are your last 5 transactions: {transactions}."),
            {"transaction_count": 5},
        ),
        "transfer-to-agent": (re.escape(HANDOFF_SENTENCE), {"handoff_requested": True}),
        "validate-appointment-date": (None, {}),  # the date stays as the agent resolved it
        "validate-email": (None, {"customer_email": "ada.lovelace@example.com"}),
        "validate-order-id": (None, {"order_id": "ORD-1002"}),
    }


def test_every_tag_has_an_example(app):
    examples = {path.stem for path in EXAMPLE_FILES}
    missing = sorted(set(app.tags) - examples)
    assert not missing, f"add a ready-to-send request for each of these tags: examples/<tag>.json: {missing}"
    unserved = sorted(examples - set(app.tags))
    assert not unserved, f"these examples name a tag nobody registered: {[f'{tag}.json' for tag in unserved]}"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: path.stem)
def test_every_example_is_answered_with_the_sample_data(client, path):
    body = dated_from_today(json.loads(path.read_text()))
    assert body["fulfillmentInfo"]["tag"] == path.stem
    expectations = example_expectations()
    assert path.stem in expectations, f"say in example_expectations() what {path.name} should answer"
    pattern, expected_params = expectations[path.stem]

    answer = ask(client, body)

    assert outcome_of(answer) == "ok"
    if pattern is None:
        assert texts_of(answer) == []
    else:
        (sentence,) = texts_of(answer)
        assert re.fullmatch(pattern, sentence), sentence
    assert session_params(answer).items() >= expected_params.items()


# --- Orders and returns ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_id", "sentence"),
    [
        ("ORD-1001", lambda: f"Your order ORD-1001 was delivered on {spoken(in_days(-3))}."),
        ("ord 1003", lambda: "Your order ORD-1003 is being prepared and hasn't shipped yet."),
        ("ORD-1005", lambda: "Your order ORD-1005 was cancelled."),
    ],
    ids=["delivered", "processing", "cancelled"],
)
def test_lookup_order_tells_each_sample_order_apart(client, order_id, sentence):
    answer = turn(client, "lookup-order", {"order_id": order_id})

    assert texts_of(answer) == [sentence()]
    assert outcome_of(answer) == "ok"


def test_an_unknown_order_is_not_found(client):
    looked_up = turn(client, "lookup-order", {"order_id": "ORD-9999"})
    returned = turn(client, "process-return", {"order_id": "ORD-9999", "item_id": "SKU-100"})

    assert (
        texts_of(looked_up)
        == texts_of(returned)
        == ["I couldn't find order ORD-9999. Could you check the number and tell me again?"]
    )
    assert outcome_of(looked_up) == outcome_of(returned) == "not-found"


@pytest.mark.parametrize(
    ("order_id", "item_id", "sentence"),
    [
        (
            "ORD-1004",
            "SKU-400",
            "That order was delivered more than 30 days ago, so it's outside our return window.",
        ),
        ("ORD-1006", "SKU-200", ALREADY_RETURNED),
        (
            "ORD-1002",
            "SKU-200",
            "That order hasn't been delivered yet, so it can't be returned. "
            "Once it arrives, I can help you return it.",
        ),
        (
            "ORD-1001",
            "SKU-999",
            "I couldn't find that item in order ORD-1001. Could you check the item number?",
        ),
    ],
    ids=["outside the window", "already returned", "not delivered", "not in the order"],
)
def test_a_return_the_store_refuses_is_explained_and_changes_nothing(client, order_id, item_id, sentence):
    before = returns_of(order_id, item_id)

    answer = turn(client, "process-return", {"order_id": order_id, "item_id": item_id, "return_reason": "no"})

    assert texts_of(answer) == [sentence]
    assert outcome_of(answer) == "rejected"
    assert returns_of(order_id, item_id) == before


def test_the_same_return_posted_three_times_is_made_once(client):
    params = {"order_id": "ORD-1006", "item_id": "SKU-300", "return_reason": "too small"}
    body = cx_request("process-return", params, response_id=f"turn-{uuid.uuid4()}")

    answers = [ask(client, body) for _ in range(3)]

    assert answers[0] == answers[1] == answers[2]
    (sentence,) = texts_of(answers[0])
    assert re.fullmatch(
        r"I've started your return\. Your return number is RET-\d+, and you'll get \$24\.50 .*", sentence
    )
    assert returns_of("ORD-1006", "SKU-300") == 1

    another_turn = turn(client, "process-return", params)

    assert texts_of(another_turn) == [ALREADY_RETURNED]
    assert outcome_of(another_turn) == "rejected"
    assert returns_of("ORD-1006", "SKU-300") == 1


def test_a_return_repeated_on_another_instance_is_made_once_too(client, app, monkeypatch):
    params = {"order_id": "ORD-1001", "item_id": "SKU-300", "return_reason": "wrong colour"}
    body = cx_request("process-return", params, response_id=f"turn-{uuid.uuid4()}")

    first = ask(client, body)
    # Another instance has no memory of the turn: only the Idempotency-Key stops a second return.
    monkeypatch.setattr(app, "_replay", ReplayCache(ttl=600))
    again = ask(client, body)

    assert outcome_of(first) == "ok"
    assert again == first
    assert returns_of("ORD-1001", "SKU-300") == 1


# --- Inventory ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "sentence", "quantity"),
    [
        (
            {"product_id": "SKU-100", "size": "10", "color": "blue"},
            "Sorry, the blue Trail Running Shoe in size 10 is out of stock right now.",
            0,
        ),
        (
            {"product_id": "SKU-100", "size": "10", "color": "black"},
            "Good news: the black Trail Running Shoe in size 10 is in stock, with 2 available.",
            2,
        ),
        ({"product_id": "SKU-400"}, "Sorry, the Leather Belt is out of stock right now.", 0),
        (
            {"product_id": "sku-200", "size": "L", "color": "navy"},
            "Sorry, the navy Merino Wool Sweater in size L is out of stock right now.",
            0,
        ),
    ],
    ids=["variant out of stock", "variant in stock", "sold out", "another variant out of stock"],
)
def test_check_inventory_knows_each_variant(client, params, sentence, quantity):
    answer = turn(client, "check-inventory", params)

    assert texts_of(answer) == [sentence]
    assert session_params(answer) == {"in_stock": quantity > 0, "quantity": quantity, "webhook_outcome": "ok"}


def test_an_unknown_product_is_not_found(client):
    answer = turn(client, "check-inventory", {"product_id": "SKU-999"})

    assert texts_of(answer) == [
        "I couldn't find a product with the code SKU-999. Could you check the code and tell me again?"
    ]
    assert outcome_of(answer) == "not-found"


# --- Customers ------------------------------------------------------------------------------------


def test_two_customers_sharing_an_email_are_not_told_apart_by_guessing(client):
    answer = turn(client, "get-customer-info", {"customer_email": "smith dot family at example dot com"})

    assert texts_of(answer) == [
        "I found more than one account with that email address, so I need one more detail to be sure it's you."
    ]
    assert outcome_of(answer) == "ambiguous"
    assert session_params(answer)["customer_id"] is None  # removed: no earlier caller's id survives


def test_an_unknown_email_is_not_found(client):
    answer = turn(client, "get-customer-info", {"customer_email": "nobody@example.com"})

    assert texts_of(answer) == [
        "I couldn't find an account with that email address. Could you check it and tell me again?"
    ]
    assert outcome_of(answer) == "not-found"


# --- Banking --------------------------------------------------------------------------------------


def test_a_euro_account_is_told_in_euros(client):
    balance = turn(client, "account-balance", {"account_id": "ACC-87654321"})
    history = turn(client, "recent-transactions", {"account_id": "acc 8765 4321"})

    assert texts_of(balance) == ["Your balance is €120.00."]
    assert texts_of(history) == [
        "Here are your last 3 transactions: "
        f"{spoken(in_days(-4))}, Train ticket, minus €30.00; "
        f"{spoken(in_days(-15))}, Rent share, minus €350.00; "
        f"{spoken(in_days(-20))}, Transfer from savings, plus €500.00."
    ]


def test_an_empty_account_has_nothing_and_says_so(client):
    balance = turn(client, "account-balance", {"account_id": "ACC-11112222"})
    history = turn(client, "recent-transactions", {"account_id": "ACC-11112222"})

    assert texts_of(balance) == ["Your balance is $0.00."]
    assert texts_of(history) == ["There are no recent transactions on that account."]
    assert session_params(history) == {"transaction_count": 0, "webhook_outcome": "ok"}


def test_an_unknown_account_is_not_found(client):
    answer = turn(client, "account-balance", {"account_id": "ACC-99999999"})

    assert texts_of(answer) == [
        "I couldn't find account ACC-99999999. Could you check the number and tell me again?"
    ]
    assert outcome_of(answer) == "not-found"


# --- Appointments ---------------------------------------------------------------------------------

# The booking desk needs a name, an email or a phone number; a chat caller has no caller id.
ADA = {"customer_name": "Ada Lovelace"}


def test_a_slot_already_booked_is_refused_and_stays_booked_once(client):
    tomorrow = in_days(1)

    answer = turn(
        client, "book-appointment", {**ADA, "service": "haircut", "date": sys_date(tomorrow), "time": "10:00"}
    )

    assert texts_of(answer) == ["That time is already taken. Would another time that day work?"]
    assert outcome_of(answer) == "rejected"
    assert appointments_at("haircut", tomorrow, "10:00") == 1


@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        (
            {**ADA, "service": "haircut", "date": sys_date(in_days(3)), "time": "8 am"},
            "We're open from 9 AM to 5 PM, with appointments every half hour. What time would suit you?",
        ),
        (
            {**ADA, "service": "massage", "date": sys_date(in_days(3)), "time": "11:00"},
            "I'm sorry, we don't offer that service. We can book a haircut, a consultation, "
            "a dental cleaning or a car service.",
        ),
        (
            {**ADA, "service": "haircut", "date": sys_date(in_days(-1)), "time": "11:00"},
            "That date has already passed. What day would you like to come in?",
        ),
    ],
    ids=["outside hours", "unknown service", "date in the past"],
)
def test_a_booking_the_desk_refuses_is_explained(client, params, sentence):
    answer = turn(client, "book-appointment", params)

    assert texts_of(answer) == [sentence]
    assert outcome_of(answer) == "rejected"


def test_the_same_booking_posted_three_times_books_once(client):
    day = in_days(4)
    params = {"service": "Car Service", "date": sys_date(day), "time": "3 pm", "customer_name": "Alan Turing"}
    body = cx_request("book-appointment", params, response_id=f"turn-{uuid.uuid4()}")

    answers = [ask(client, body) for _ in range(3)]

    assert answers[0] == answers[1] == answers[2]
    (sentence,) = texts_of(answers[0])
    assert re.fullmatch(
        re.escape(f"You're booked for a car service on {spoken(day)} at 3 PM. ")
        + r"Your confirmation number is APT-\d+\.",
        sentence,
    )
    assert appointments_at("car-service", day, "15:00") == 1


def test_a_booking_repeated_on_another_instance_is_made_once_too(client, app, monkeypatch):
    day = in_days(5)
    params = {**ADA, "service": "consultation", "date": sys_date(day), "time": "9:30 am"}
    body = cx_request("book-appointment", params, response_id=f"turn-{uuid.uuid4()}")

    first = ask(client, body)
    # Another instance has no memory of the turn: only the Idempotency-Key stops a second booking.
    monkeypatch.setattr(app, "_replay", ReplayCache(ttl=600))
    again = ask(client, body)

    assert outcome_of(first) == "ok"
    assert again == first
    assert appointments_at("consultation", day, "09:30") == 1


# --- Weather --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("city", "place"), [("tokyo", "Tokyo"), ("sao paulo", "São Paulo")])
def test_the_weather_of_a_known_city(client, city, place):
    answer = turn(client, "get-weather", {"city": city})

    (sentence,) = texts_of(answer)
    assert re.fullmatch(
        rf"Right now in {place} it's -?\d+ degrees Celsius(?: and|, with) [a-z ]+\.", sentence
    )
    assert session_params(answer)["weather_city"] == place


def test_the_weather_of_an_unknown_city_is_not_found(client):
    answer = turn(client, "get-weather", {"city": "Atlantis"})

    assert texts_of(answer) == ["Sorry, I don't have the weather for Atlantis."]
    assert outcome_of(answer) == "not-found"


# --- Handoff --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "caller_id", "transfer"),
    [
        ("+15555550123", "+15555550100", [{"telephonyTransferCall": {"phoneNumber": "+15555550123"}}]),
        ("+15555550123", None, []),
        (None, "+15555550100", []),
    ],
    ids=["number and caller id", "number, no caller id", "caller id, no number"],
)
def test_handoff_transfers_the_call_only_with_a_number_and_a_caller(
    client, monkeypatch, number, caller_id, transfer
):
    if number:
        monkeypatch.setenv("HANDOFF_PHONE_NUMBER", number)
    extra = {"payload": {"telephony": {"caller_id": caller_id}}} if caller_id else {}

    answer = turn(client, "transfer-to-agent", {"order_id": "ORD-1002"}, **extra)

    assert answer["fulfillmentResponse"]["messages"] == [
        {"text": {"text": [HANDOFF_SENTENCE]}},
        {"liveAgentHandoff": {"metadata": {"reason": "caller asked for a person", "order_id": "ORD-1002"}}},
        *transfer,
    ]
    assert session_params(answer) == {"handoff_requested": True, "webhook_outcome": "ok"}
