"""The read-only lookups: inventory, customers, accounts and their transactions, weather."""

import json

import pytest

from tests.store.kit import answer, day, get, weather

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


# --- weather -------------------------------------------------------------------------------------


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
