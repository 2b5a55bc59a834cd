"""What the tests of every tag share: the fake backends' addresses, what they answer when all
goes well, the words the caller hears when they fail, and ``resolve``, which serves one turn
and checks the answer (against the official proto, and for ``SECRET-DB-ERROR``, which every
mocked error body carries: a backend's own words must never reach the caller)."""

import datetime
import json
import uuid

from handlers import app
from tests.conftest import assert_valid_response, cx_request, texts_of

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
    "through. I won't try again, so that it isn't done twice: a member of our team can check "
    "it for you."
)
REFUSED = "I'm sorry, {system} couldn't accept that request."


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


def empty_form_page(parameter):
    """``pageInfo`` of a form-validation webhook called before the caller answered."""
    page = form_page(parameter, None)
    info = page["formInfo"]["parameterInfo"][0]
    info["state"], info["justCollected"] = "EMPTY", False
    return page


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
        "I've started your return. Your return number is RET-7, and you'll get $89.99 back "
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
        f"Here is your last transaction: {LATER_SPOKEN}, Coffee Corner, minus $4.50.",
    ),
    "book-appointment": (
        {"service": "haircut", "date": LATER.isoformat(), "time": "10:30", "customer_name": "Ada Lovelace"},
        ("POST", f"{BOOKING}/appointments"),
        "our booking system",
        BOOKED,
        f"You're booked for a haircut on {LATER_SPOKEN}, at 10:30 AM. Your confirmation number is APT-2002.",
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


# --- What the caller hears asked again, and a refusal's body two ways ---------------------------

ASK_ORDER_ID = "What's your order number? It starts with ORD, like ORD-1001."
ASK_ACCOUNT = "What's your account number? It starts with ACC and has eight digits."


def flat_error(code):
    return {"error": f"{SECRET}: {code}", "code": code}


def nested_error(code):
    return {"error": {"code": code, "message": SECRET}}
