"""Orders (``handlers/orders.py``): validate-order-id, lookup-order, process-return."""

import uuid

import pytest

from tests.conftest import outcome_of, texts_of
from tests.tags.kit import (
    ASK_ORDER_ID,
    ORDER,
    RETURN,
    STORE,
    assert_asked_again,
    flat_error,
    form_page,
    in_days,
    nested_error,
    resolve,
    sent_json,
    session_params,
)

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
        "I've started your return. Your return number is RET-7, and you'll get €1,250.50 back "
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


@pytest.mark.parametrize("error_body", [flat_error, nested_error], ids=["code", "error.code"])
@pytest.mark.parametrize("code", RETURN_REFUSALS)
def test_process_return_words_each_refusal_of_the_store(backends, code, error_body):
    backends.post(RETURNS_URL, status=422, json=error_body(code))

    answer = resolve("process-return", {"order_id": "ORD-1001", "item_id": "SKU-100"})

    assert texts_of(answer) == [RETURN_REFUSALS[code]]
    assert outcome_of(answer) == "rejected"
    assert len(backends.calls) == 1


def test_two_returns_asked_in_one_turn_carry_two_idempotency_keys(backends):
    backends.post(RETURNS_URL, status=201, json=RETURN)
    turn = f"turn-{uuid.uuid4()}"

    resolve("process-return", {"order_id": "ORD-1001", "item_id": "SKU-300"}, turn=turn)
    resolve("process-return", {"order_id": "ORD-1001", "item_id": "SKU-200"}, turn=turn)

    keys = [call.request.headers["Idempotency-Key"] for call in backends.calls]
    assert len(keys) == 2 and keys[0] != keys[1]  # one key, one payload: the backend can tell them apart


def test_a_late_order_is_not_said_to_arrive_in_the_past(backends):
    backends.get(
        f"{STORE}/orders/ORD-1002", json={**ORDER, "status": "shipped", "estimated_delivery": "2020-03-05"}
    )

    (sentence,) = texts_of(resolve("lookup-order", {"order_id": "ORD-1002"}))
    assert sentence.startswith(
        "Your order ORD-1002 has shipped and was due to arrive on Thursday, March 5, 2020."
    )
