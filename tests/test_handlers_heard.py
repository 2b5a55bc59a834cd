"""The tags fed what a Dialogflow CX agent sends as callers speak: ``@sys.person`` as
``{"name": ...}``, ids spelled letter by letter, the full stop speech-to-text ends an utterance
with, an email address as said, "one size", balances that are not all available, a name
with a suffix.

Most run against a fresh demo store (the service's own stand-in backend, as in
test_handlers_demo.py); those that need backend data the demo store does not hold mock the
backend with ``responses``, as the tests in ``tests/tags`` do.
"""

import datetime
import uuid

import pytest
import responses

import demo_store
from fulfillment import backend as backend_module
from fulfillment.backend import reset
from handlers import app
from tests import test_handlers_demo
from tests.conftest import assert_valid_response, cx_request, outcome_of, texts_of

TRANSPORT = "fulfillment.transport.PooledAdapter.send"
STORE = "https://store.test"
BANK = "https://bank.test"


# The same fresh demo store as test_handlers_demo.py, for this module (autouse).
store = test_handlers_demo.store


@pytest.fixture
def mocked(monkeypatch):
    """Store and bank at fake URLs answered by ``responses`` (for data the demo store lacks)."""
    monkeypatch.setenv("DEMO_STORE", "off")
    monkeypatch.setenv("BACKEND_STORE_URL", STORE)
    monkeypatch.setenv("BACKEND_BANK_URL", BANK)
    monkeypatch.setattr(backend_module, "BACKOFF_BASE_S", 0.0)
    reset()
    with responses.RequestsMock(assert_all_requests_are_fired=False, target=TRANSPORT) as mock:
        yield mock
    monkeypatch.undo()
    reset()


def resolve(tag, params=None, **extra):
    body = cx_request(tag, params, response_id=f"turn-{uuid.uuid4()}", **extra)
    return assert_valid_response(app.resolve(body))


def params_of(answer):
    return answer["sessionInfo"]["parameters"]


def sys_date(date):
    return {"year": float(date.year), "month": float(date.month), "day": float(date.day)}


def sys_time(hours, minutes=0):
    return {"hours": float(hours), "minutes": float(minutes), "seconds": 0.0, "nanos": 0.0}


def in_days(days):
    from fulfillment import clock

    return clock.today() + datetime.timedelta(days=days)


def count(sql, *args):
    with demo_store.shared().database.transaction() as conn:
        return conn.execute(sql, args).fetchone()[0]


# --- 1. book-appointment: a name resolved by @sys.person is never read --------------------------


def test_book_appointment_reads_a_sys_person_name():
    """@sys.person resolves to {"name": "Ada Lovelace"}; as_text() of a dict is None, so the
    caller who just gave their name hears "To book, I still need your name." on every turn
    and can never book."""
    date = in_days(3)
    answer = resolve(
        "book-appointment",
        {
            "service": "haircut",
            "date": sys_date(date),
            "time": sys_time(11),
            "customer_name": {"name": "Ada Lovelace"},
        },
    )

    assert texts_of(answer) != ["To book, I still need your name."]
    assert outcome_of(answer) == "ok"
    assert params_of(answer)["confirmation_id"]


# --- 2. book-appointment: an email as the caller said it makes every booking fail ----------------


def test_book_appointment_with_the_email_as_get_customer_info_accepted_it():
    """get-customer-info accepts "ada dot lovelace at example dot com" (and finds Ada) but
    leaves customer_email as said; book-appointment then sends it to the booking backend
    unnormalised, the backend refuses it (400), and the caller hears "I'm sorry, I couldn't
    book that appointment." (outcome rejected) for a perfectly good slot, on every retry."""
    spoken_email = "ada dot lovelace at example dot com"
    found = resolve("get-customer-info", {"customer_email": spoken_email})
    assert outcome_of(found) == "ok"  # the same value identified the caller a moment ago

    answer = resolve(
        "book-appointment",
        {
            "service": "consultation",
            "date": sys_date(in_days(3)),
            "time": sys_time(14),
            "customer_name": "Ada Lovelace",
            "customer_email": spoken_email,
        },
    )

    assert outcome_of(answer) == "ok", texts_of(answer)
    assert (
        count("SELECT COUNT(*) FROM appointments WHERE customer_email = ?", "ada.lovelace@example.com") == 1
    )


# --- 3. check-inventory: "one size" (as said) reads as out of stock --------------------------------


def test_check_inventory_one_size_said_with_a_space_is_in_stock():
    """The handler knows "one size" means no size (it drops it from the sentence), but it
    drops it only after sending size="one size" to the backend, which knows "one-size": the
    caller hears the tote bag is out of stock (in_stock false) while 21 are on the shelf."""
    answer = resolve("check-inventory", {"product_id": "SKU-300", "size": "one size"})

    assert texts_of(answer) == ["Good news: the Canvas Tote Bag is in stock, with 21 available."]
    assert params_of(answer)["in_stock"] is True
    assert params_of(answer)["quantity"] == 21


def test_check_inventory_one_size_with_a_colour_is_in_stock():
    answer = resolve("check-inventory", {"product_id": "SKU-300", "size": "One Size", "color": "natural"})

    assert texts_of(answer) == ["Good news: the natural Canvas Tote Bag is in stock, with 12 available."]
    assert params_of(answer)["in_stock"] is True


# --- 4. ids spelled out letter by letter are refused -------------------------------------------


@pytest.mark.parametrize("heard", ["O R D 1002", "O R D 1 0 0 2", "o r d - 1 0 0 2"])
def test_lookup_order_reads_an_order_number_spelled_out(heard):
    """Speech-to-text writes a spelled id as "O R D 1 0 0 2". Account numbers spelled that
    way are accepted ("A C C 1 2 3 4 5 6 7 8" works: banking removes every separator), but
    order numbers are re-asked forever: "What's your order number? It starts with ORD"."""
    answer = resolve("lookup-order", {"order_id": heard})

    assert outcome_of(answer) == "ok", texts_of(answer)
    assert params_of(answer)["order_id"] == "ORD-1002"


@pytest.mark.parametrize("heard", ["S K U 100", "S K U 1 0 0"])
def test_check_inventory_reads_a_product_code_spelled_out(heard):
    answer = resolve("check-inventory", {"product_id": heard, "size": "9", "color": "blue"})

    assert outcome_of(answer) == "ok", texts_of(answer)


# --- 5. a trailing full stop (speech-to-text, chat) ----------------------------------------------


def test_get_weather_with_a_trailing_full_stop():
    """ "paris." is not found, and the caller hears "...the weather for paris.." (two stops)."""
    answer = resolve("get-weather", {"city": "paris."})

    assert not any(".." in text for text in texts_of(answer)), texts_of(answer)
    assert outcome_of(answer) == "ok"


@pytest.mark.parametrize(
    ("tag", "params"),
    [
        ("lookup-order", {"order_id": "ord-1002."}),
        ("account-balance", {"account_id": "ACC-12345678."}),
        ("get-customer-info", {"customer_email": "ada.lovelace@example.com."}),
        ("check-inventory", {"product_id": "SKU-100."}),
    ],
)
def test_an_id_with_a_trailing_full_stop_is_read(tag, params):
    answer = resolve(tag, params)

    assert outcome_of(answer) == "ok", texts_of(answer)


def test_process_return_item_with_a_trailing_full_stop():
    """ "SKU 300." is sent to the store as the item id "SKU 300." and the caller hears "I couldn't
    find that item in order ORD-1006" although it is in that order."""
    answer = resolve(
        "process-return", {"order_id": "ORD-1006", "item_id": "SKU 300.", "return_reason": "too big"}
    )

    assert outcome_of(answer) == "ok", texts_of(answer)


# --- 6. get-customer-info greets a suffix as if it were the first name -------------------------


@pytest.mark.parametrize(
    ("name", "greeting"),
    [
        ("Martin Luther King, Jr.", "Thanks, Martin. I found your account."),
        ("Grace Hopper, PhD", "Thanks, Grace. I found your account."),
        # Sir and Dame go with the first name, where Dr. and Ms. go with the last.
        ("Dame Judi Dench", "Thanks, Dame Judi. I found your account."),
        ("Sir Ian McKellen", "Thanks, Sir Ian. I found your account."),
    ],
)
def test_get_customer_info_does_not_greet_a_name_suffix(mocked, name, greeting):
    """how_to_address() reads any "X, Y" as "Last, First": "Martin Luther King, Jr." is
    greeted "Thanks, Jr. I found your account.", "Grace Hopper, PhD" "Thanks, PhD."."""
    mocked.get(f"{STORE}/customers", json=[{"id": "CUS-1", "name": name}])

    answer = resolve("get-customer-info", {"customer_email": "c@example.com"})

    assert texts_of(answer) == [greeting]


@pytest.mark.parametrize(
    ("said", "address"),
    [
        ("jane underscore doe at example dot com", "jane_doe@example.com"),
        ("mary dash ann at example dot co dot uk", "mary-ann@example.co.uk"),
        ("mary hyphen ann at example dot com", "mary-ann@example.com"),
        ("ada plus news at example dot com", "ada+news@example.com"),
    ],
)
def test_an_email_address_is_written_with_the_symbols_said_as_words(said, address):
    answer = resolve("validate-email", {"customer_email": said})

    assert params_of(answer)["customer_email"] == address


# --- 7. account-balance: "of it" when the available amount is not part of the balance -----------


@pytest.mark.parametrize(
    "account",
    [
        # An overdraft or credit line: more is available than the balance.
        {"currency": "USD", "balance": 100.0, "available_balance": 600.0},
        # Pending card payments above the balance: nothing is available.
        {"currency": "USD", "balance": 50.0, "available_balance": -20.0},
    ],
    ids=["available above balance", "available negative"],
)
def test_account_balance_never_says_more_than_the_balance_is_part_of_it(mocked, account):
    """ "Your balance is $100.00, and $600.00 of it is available to spend." / "Your balance is
    $50.00, and minus $20.00 of it is available to spend." are false or meaningless."""
    mocked.get(f"{BANK}/accounts/ACC-12345678", json={"account_id": "ACC-12345678", **account})

    answer = resolve("account-balance", {"account_id": "ACC-12345678"})

    assert outcome_of(answer) == "ok"
    assert not any("of it is available" in text for text in texts_of(answer)), texts_of(answer)
