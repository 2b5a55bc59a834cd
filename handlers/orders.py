"""Orders: where is my order, I want to return something, is this a real order number.

Backend ``store`` (``BACKEND_STORE_URL``): ``GET /orders/{id}``, ``POST /orders/{id}/returns``.
"""

from fulfillment import BadBackendData, NotFound, Rejected, Response, clock
from fulfillment.backend import backend, echoed, field, turn_key
from fulfillment.values import as_date, as_text
from handlers import app
from handlers._ids import heard, prefixed_id, sku_of
from handlers._words import money, on_day

orders = backend("store", spoken_name="our order system")

ASK_ORDER_ID = "What's your order number? It starts with ORD, like ORD-1001."
NO_SUCH_ORDER = "I couldn't find order {order_id}. Could you check the number and tell me again?"


def order_id_of(request):
    """The order id the caller gave, in canonical form (``ord 1001`` → ``ORD-1001``), or None."""
    return prefixed_id(as_text(request.param("order_id")), "ORD", "3,10")  # "O R D 1002." too


@app.tag("validate-order-id")
def validate_order_id(request):
    """Form validation: an order number must look like ORD-1001 before we look it up."""
    if request.unanswered("order_id"):
        return Response().with_outcome("no-input")
    order_id = order_id_of(request)
    if order_id is None:
        return (
            Response("That doesn't look like one of our order numbers. " + ASK_ORDER_ID)
            .invalidate("order_id")
            .with_outcome("invalid-input")
        )
    return Response().set(order_id=order_id)


@app.tag("lookup-order", answers=("order_status", "tracking_number", "estimated_delivery"))
def lookup_order(request):
    order_id = order_id_of(request)
    if order_id is None:
        return Response(ASK_ORDER_ID).with_outcome("invalid-input")
    try:
        order = echoed(orders.get_json(f"/orders/{order_id}"), "order_id", order_id)
    except NotFound:
        return Response(NO_SUCH_ORDER.format(order_id=order_id)).with_outcome("not-found")

    status = field(order, "status", str)
    tracking = field(order, "tracking_number", str, required=False)
    eta = as_date(field(order, "estimated_delivery", str, required=False))
    delivered_on = as_date(field(order, "delivered_on", str, required=False))

    if status == "shipped":
        sentence = f"Your order {order_id} has shipped"
        if eta and eta < clock.today():
            sentence += f" and was due to arrive {on_day(eta)}."  # late: not "should arrive" in the past
        else:
            sentence += f" and should arrive {on_day(eta)}." if eta else "."
        if tracking:
            sentence += f" The tracking number is {tracking}."
    elif status == "delivered":
        sentence = f"Your order {order_id} was delivered" + (
            f" {on_day(delivered_on)}." if delivered_on else "."
        )
    elif status == "processing":
        sentence = f"Your order {order_id} is being prepared and hasn't shipped yet."
    elif status == "cancelled":
        sentence = f"Your order {order_id} was cancelled."
    else:
        sentence = f"Your order {order_id} is {status.replace('_', ' ')}."

    return Response(sentence).set(
        order_id=order_id,
        order_status=status,
        tracking_number=tracking,
        estimated_delivery=eta.isoformat() if eta else None,
    )


RETURN_REFUSALS = {
    "return-window-closed": "That order was delivered more than 30 days ago, so it's outside our return window.",
    "not-delivered": "That order hasn't been delivered yet, so it can't be returned. "
    "Once it arrives, I can help you return it.",
    "item-not-in-order": "I couldn't find that item in order {order_id}. Could you check the item number?",
    "already-returned": "There's already a return for that item.",
    "order-cancelled": "Order {order_id} was cancelled, so there's nothing to return.",
}


@app.tag("process-return", side_effects=True, answers=("return_id", "refund_amount"))
def process_return(request):
    order_id = order_id_of(request)
    item = heard(as_text(request.param("item_id")))
    item_id = sku_of(item) or item  # "sku 300" is SKU-300; other catalogues' ids as given
    reason = as_text(request.param("return_reason")) or "not given"
    if order_id is None:
        return Response(ASK_ORDER_ID).with_outcome("invalid-input")
    if item_id is None:
        return Response("Which item would you like to return?").with_outcome("invalid-input")

    try:
        created = orders.post_json(
            f"/orders/{order_id}/returns",
            {"item_id": item_id, "reason": reason},
            idempotency_key=turn_key(request, order_id, item_id),  # one key per return asked for
        )
    except NotFound:
        return Response(NO_SUCH_ORDER.format(order_id=order_id)).with_outcome("not-found")
    except Rejected as refusal:
        sentence = RETURN_REFUSALS.get(refusal.code, "I'm sorry, I can't start a return for that item.")
        return Response(sentence.format(order_id=order_id)).with_outcome("rejected")

    return_id = field(created, "return_id", str)
    refund = field(created, "refund_amount", (int, float))
    if refund < 0:
        raise BadBackendData("refund_amount is negative", system=orders.spoken_name)
    currency = field(created, "currency", str, required=False) or "USD"
    return Response(
        f"I've started your return. Your return number is {return_id}, and you'll get "
        f"{money(refund, currency)} back within 5 to 7 business days of us receiving the item."
    ).set(return_id=return_id, refund_amount=refund)
