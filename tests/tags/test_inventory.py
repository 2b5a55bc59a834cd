"""Inventory (``handlers/inventory.py``): check-inventory."""

import pytest

from tests.conftest import outcome_of, texts_of
from tests.tags.kit import STOCK, STORE, resolve, session_params

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
        resolve("check-inventory", {"product_id": "SKU-100", "size": "10", "color": "BLACK"})
    ) == ["Sorry, the black Trail Running Shoe in size 10 is out of stock right now."]  # the store's spelling

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


@pytest.mark.parametrize("heard", ["SKU \u2013 100", "sku_100", "SKU100", " sku - 100 "])
def test_a_product_code_is_read_however_it_was_typed_or_heard(backends, heard):
    backends.get(f"{STORE}/inventory", json=STOCK)

    assert outcome_of(resolve("check-inventory", {"product_id": heard})) == "ok"
    assert backends.calls[0].request.url.endswith("product_id=SKU-100")


def test_the_variant_is_said_as_the_store_spells_it_not_as_it_was_heard(backends):
    variants = [{"size": "M", "color": "navy", "quantity": 2}, {"size": "L", "color": "grey", "quantity": 1}]
    backends.get(
        f"{STORE}/inventory", json={"name": "Merino Wool Sweater", "quantity": 2, "variants": variants}
    )

    answer = resolve("check-inventory", {"product_id": "SKU-200", "size": "m", "color": "Navy"})

    assert texts_of(answer) == [
        "Good news: the navy Merino Wool Sweater in size M is in stock, with 2 available."
    ]
