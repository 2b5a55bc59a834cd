"""Banking (``handlers/banking.py``): account-balance, recent-transactions; how money sounds."""

import pytest

from tests.conftest import outcome_of, texts_of
from tests.tags.kit import ACCOUNT, BANK, LATER_SPOKEN, in_days, resolve, session_params

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
        "today, Coffee Corner, minus $4.50",
        "yesterday, Salary, plus $3,200.00",
        f"{LATER_SPOKEN}, Train ticket, minus €30.00",
        "recently, Bookshop, minus $12.99",
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


@pytest.mark.parametrize("heard", ["ACC-1234-5678", "ACC \u2013 12345678", "acc 1234 5678", "ACC_12345678"])
def test_an_account_number_is_read_however_its_digits_are_grouped(backends, heard):
    backends.get(f"{BANK}/accounts/ACC-12345678", json=ACCOUNT)

    assert outcome_of(resolve("account-balance", {"account_id": heard})) == "ok"


def test_money_never_says_minus_nothing():
    from handlers._words import money

    assert money(-0.004) == "$0.00" and money(-3, "EUR") == "minus €3.00" and money(7, "NOK") == "7.00 NOK"
    assert money(-0.4, "JPY") == "¥0"


def test_money_has_no_cents_where_the_currency_has_none():
    from handlers._words import money

    assert money(1200, "JPY") == "¥1,200" and money(-50000, "krw") == "minus 50,000 KRW"
