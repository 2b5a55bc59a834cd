"""Customers (``handlers/customers.py``): validate-email, get-customer-info."""

import pytest

from tests.conftest import texts_of
from tests.tags.kit import (
    CUSTOMERS,
    STORE,
    assert_asked_again,
    cleared,
    empty_form_page,
    form_page,
    resolve,
    session_params,
)

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

    assert texts_of(answer) == [
        "I couldn't find an account with that email address. Could you check it and tell me again?"
    ]
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


def test_validate_email_invalidates_the_parameter_the_email_came_in(backends):
    answer = resolve("validate-email", pageInfo=form_page("email", "not an address"))

    assert_asked_again(
        answer, "email", "Sorry, I didn't catch a valid email address. Could you say it again, slowly?"
    )
    good = resolve("validate-email", pageInfo=form_page("email", "Ada at example dot com"))
    assert session_params(good) == {"email": "ada@example.com", "webhook_outcome": "ok"}


@pytest.mark.parametrize("name", ["Dr. Grace Hopper", "Hopper, Dr. Grace"])
def test_a_title_goes_with_the_last_name(backends, name):
    backends.get(f"{STORE}/customers", json=[{"id": "CUS-1", "name": name}])

    assert texts_of(resolve("get-customer-info", {"customer_email": "grace@example.com"})) == [
        "Thanks, Dr. Hopper. I found your account."
    ]


def test_validate_email_reads_the_forms_own_parameter_first(backends):
    page = form_page("email", "new@example.com")
    answer = resolve("validate-email", {"customer_email": "old@example.com"}, pageInfo=page)
    assert session_params(answer) == {"email": "new@example.com", "webhook_outcome": "ok"}

    empty = resolve(
        "validate-email", {"customer_email": "old@example.com"}, pageInfo=empty_form_page("email")
    )
    assert session_params(empty) == {"webhook_outcome": "no-input"} and "pageInfo" not in empty
