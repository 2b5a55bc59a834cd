"""What each demo store endpoint does, apart from HTTP framing.

``StoreApi.handle(call)`` takes one parsed request and returns ``(status, body, headers)``
or raises ``ApiError``; ``server.py`` turns either into bytes on the wire. Keeping the two
apart means every rule here reads as plain Python.

    >>> from datetime import UTC, datetime
    >>> from demo_store.db import Database
    >>> from demo_store.sample_data import seed
    >>> db = Database()
    >>> now = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
    >>> with db.transaction() as conn:
    ...     seed(conn, now.date())
    >>> api = StoreApi(db, clock=lambda: now, booking_token="t", weather_key="k")
    >>> status, body, headers = api.handle(Call("GET", "/orders/ord-1002", {}, b""))
    >>> status, body["order_id"], body["status"], body["estimated_delivery"]
    (200, 'ORD-1002', 'shipped', '2030-02-02')
"""

import hashlib
import hmac
import json
import re
from datetime import date, datetime
from urllib.parse import parse_qs, unquote, urlsplit

from demo_store.sample_data import SERVICES
from demo_store.weather import current_weather, find_city

RETURN_WINDOW_DAYS = 30
OPENING_TIME = "09:00"
LAST_SLOT = "16:30"  # 30-minute slots, and the last one ends at 17:00 closing time.
MAX_TRANSACTIONS = 50
DEFAULT_TRANSACTIONS = 5

ORDER_ID = re.compile(r"ORD-[0-9]{3,10}")
PRODUCT_ID = re.compile(r"SKU-[0-9]{3,10}")
ACCOUNT_ID = re.compile(r"ACC-[0-9]{8}")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CLOCK_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
# Printable ASCII without spaces: what fits in a header and reads back unchanged.
IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,255}")


class ApiError(Exception):
    """A request answered with an error status and ``{"error": message[, "code": code]}``.

    ``close_connection`` is set when the request body could not be read to its end, so the
    connection cannot carry another request.
    """

    def __init__(self, status, message, *, code=None, headers=(), close_connection=False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = tuple(headers)
        self.close_connection = close_connection

    def body(self):
        body = {"error": self.message}
        if self.code:
            body["code"] = self.code
        return body


class Call:
    """One HTTP request as the API sees it: method, target, headers and the whole body."""

    __slots__ = ("method", "path", "query", "headers", "body")

    def __init__(self, method, target, headers, body):
        parts = urlsplit(target)
        self.method = method
        # A trailing slash is forgiven: /healthz/ is /healthz.
        self.path = parts.path.rstrip("/") or "/"
        self.query = {
            name: values[0] for name, values in parse_qs(parts.query, keep_blank_values=True).items()
        }
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name)

    def arg(self, name):
        """Query parameter ``name``, stripped; ``None`` when absent or blank."""
        value = self.query.get(name, "").strip()
        return value or None

    def json_object(self):
        try:
            value = json.loads(self.body)
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "request body must be a JSON object") from None
        if not isinstance(value, dict):
            raise ApiError(400, "request body must be a JSON object")
        return value


# (method, path pattern, StoreApi method). Patterns match the raw path; captured ids are
# percent-decoded afterwards.
ROUTES = tuple(
    (method, re.compile(pattern), name)
    for method, pattern, name in (
        ("GET", r"/", "index"),
        ("GET", r"/healthz", "healthz"),
        ("GET", r"/orders/(?P<order_id>[^/]+)", "get_order"),
        ("POST", r"/orders/(?P<order_id>[^/]+)/returns", "create_return"),
        ("GET", r"/inventory", "get_inventory"),
        ("GET", r"/customers", "find_customers"),
        ("GET", r"/accounts/(?P<account_id>[^/]+)", "get_account"),
        ("GET", r"/accounts/(?P<account_id>[^/]+)/transactions", "list_transactions"),
        ("GET", r"/appointments/services", "list_services"),
        ("POST", r"/appointments", "book_appointment"),
        ("GET", r"/weather/current", "get_current_weather"),
    )
)

# What GET / lists: the routes with their named groups written as {placeholders}.
_NAMED_GROUP = re.compile(r"[(][?]P<(\w+)>[^)]*[)]")
ENDPOINTS = [method + " " + _NAMED_GROUP.sub(r"{\1}", pattern.pattern) for method, pattern, _ in ROUTES]


def money(cents):
    return round(cents / 100, 2)


def canonical_id(raw, pattern, example):
    """An id in canonical upper case, or a 400 when it cannot be one (``ord-1001`` → ``ORD-1001``)."""
    value = (raw or "").strip().upper()
    if not pattern.fullmatch(value):
        raise ApiError(400, f"invalid id {raw!r}: expected something like {example}")
    return value


def required_text(body, field, *, max_length=500, where=""):
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"{where}{field} is required and must be a non-empty string")
    value = value.strip()
    if len(value) > max_length:
        raise ApiError(400, f"{where}{field} must be at most {max_length} characters")
    return value


def optional_text(body, field, *, max_length, where=""):
    """A stripped string, or ``None`` when the field is absent, null or blank; 400 for other types."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{where}{field} must be a string")
    value = value.strip()
    if len(value) > max_length:
        raise ApiError(400, f"{where}{field} must be at most {max_length} characters")
    return value or None


def fingerprint(operation):
    return hashlib.sha256(json.dumps(operation, sort_keys=True).encode()).hexdigest()


def bearer_token(call):
    scheme, _, token = (call.header("Authorization") or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def same_secret(given, expected):
    # Bytes, because compare_digest refuses non-ASCII str and a header may hold anything.
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


class StoreApi:
    """The demo store's endpoints over one ``Database``; ``clock()`` returns an aware UTC datetime."""

    def __init__(self, db, *, clock, booking_token, weather_key):
        self.db = db
        self.clock = clock
        self.booking_token = booking_token
        self.weather_key = weather_key

    # --- dispatch ---------------------------------------------------------------------------

    def handle(self, call):
        """Route ``call`` and run it: ``(status, body, headers)``, or ``ApiError``."""
        name, params = self.route(call.method, call.path)
        result = getattr(self, name)(call, **params)
        status, body, headers = result if isinstance(result, tuple) else (200, result, ())
        return status, body, headers

    @staticmethod
    def route(method, path):
        allowed = []
        for route_method, pattern, name in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            # HEAD is GET without the body (server.py drops it).
            if route_method == method or (method == "HEAD" and route_method == "GET"):
                return name, {key: unquote(value) for key, value in match.groupdict().items()}
            allowed.append(route_method)
        if not allowed:
            # Not "not found", which a handler says as "I couldn't find order …": a fork's
            # new tag whose endpoint is not written yet must not pass for a missing record.
            raise ApiError(404, f"no endpoint {path}", code="no-such-endpoint")
        if "GET" in allowed:
            allowed.append("HEAD")
        raise ApiError(
            405, f"method {method} not allowed here", headers=[("Allow", ", ".join(sorted(set(allowed))))]
        )

    # --- idempotency ----------------------------------------------------------------------------

    @staticmethod
    def idempotency_key(call):
        key = call.header("Idempotency-Key")
        if key is None:
            return None
        key = key.strip()
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise ApiError(400, "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces")
        return key

    @staticmethod
    def replay(conn, key, operation):
        """The stored answer for ``key``, if this same operation already ran with it."""
        if key is None:
            return None
        row = conn.execute(
            "SELECT fingerprint, status, body FROM idempotency_keys WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        if row["fingerprint"] != fingerprint(operation):
            raise ApiError(
                422,
                "this Idempotency-Key was already used for a different request",
                code="idempotency-key-reused",
            )
        return row["status"], json.loads(row["body"]), [("Idempotent-Replayed", "true")]

    @staticmethod
    def remember(conn, key, operation, status, body):
        # Only successes are stored: a refused request changed nothing, so its retry should be
        # judged again (the slot may have been freed, the body fixed).
        if key is not None:
            conn.execute(
                "INSERT INTO idempotency_keys (key, fingerprint, status, body) VALUES (?, ?, ?, ?)",
                (key, fingerprint(operation), status, json.dumps(body)),
            )

    # --- endpoints ------------------------------------------------------------------------------

    def index(self, call):
        return {"service": "demo_store", "endpoints": ENDPOINTS}

    def healthz(self, call):
        return {"status": "ok"}

    def get_order(self, call, order_id):
        order_id = canonical_id(order_id, ORDER_ID, "ORD-1001")
        with self.db.transaction() as conn:
            order = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
            if order is None:
                raise ApiError(404, "order not found")
            items = conn.execute(
                "SELECT item_id, name, quantity, price_cents FROM order_items WHERE order_id = ?"
                " ORDER BY position",
                (order_id,),
            ).fetchall()
        return {
            "order_id": order["id"],
            "status": order["status"],
            "tracking_number": order["tracking_number"],
            "estimated_delivery": order["estimated_delivery"],
            "delivered_on": order["delivered_on"],
            "customer_id": order["customer_id"],
            "total": money(sum(item["quantity"] * item["price_cents"] for item in items)),
            "currency": order["currency"],
            "items": [
                {
                    "item_id": item["item_id"],
                    "name": item["name"],
                    "quantity": item["quantity"],
                    "price": money(item["price_cents"]),
                }
                for item in items
            ],
        }

    def create_return(self, call, order_id):
        order_id = canonical_id(order_id, ORDER_ID, "ORD-1001")
        body = call.json_object()
        item_id = required_text(body, "item_id", max_length=64).upper()
        reason = required_text(body, "reason")
        key = self.idempotency_key(call)
        operation = {"op": "return", "order_id": order_id, "item_id": item_id, "reason": reason}
        today = self.clock().date()
        with self.db.transaction() as conn:
            replayed = self.replay(conn, key, operation)
            if replayed:
                return replayed
            order = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
            if order is None:
                raise ApiError(404, "order not found")
            item = conn.execute(
                "SELECT quantity, price_cents FROM order_items WHERE order_id = ? AND item_id = ?",
                (order_id, item_id),
            ).fetchone()
            if item is None:
                raise ApiError(422, f"item {item_id} is not in order {order_id}", code="item-not-in-order")
            if order["status"] == "cancelled":
                raise ApiError(
                    422, f"order {order_id} was cancelled, nothing to return", code="order-cancelled"
                )
            if order["status"] != "delivered":
                raise ApiError(422, f"order {order_id} has not been delivered yet", code="not-delivered")
            days_since_delivery = (today - date.fromisoformat(order["delivered_on"])).days
            if days_since_delivery > RETURN_WINDOW_DAYS:
                raise ApiError(
                    422,
                    f"order {order_id} was delivered {days_since_delivery} days ago; returns close after "
                    f"{RETURN_WINDOW_DAYS} days",
                    code="return-window-closed",
                )
            if conn.execute(
                "SELECT 1 FROM returns WHERE order_id = ? AND item_id = ?", (order_id, item_id)
            ).fetchone():
                raise ApiError(
                    422, f"item {item_id} of order {order_id} was already returned", code="already-returned"
                )
            refund_cents = item["quantity"] * item["price_cents"]
            cursor = conn.execute(
                "INSERT INTO returns (order_id, item_id, reason, refund_cents, status, created_on)"
                " VALUES (?, ?, ?, ?, 'pending', ?)",
                (order_id, item_id, reason, refund_cents, today.isoformat()),
            )
            created = {
                "return_id": f"RET-{cursor.lastrowid}",
                "order_id": order_id,
                "item_id": item_id,
                "refund_amount": money(refund_cents),
                "currency": order["currency"],
                "status": "pending",
            }
            self.remember(conn, key, operation, 201, created)
        return 201, created, ()

    def get_inventory(self, call):
        raw_id = call.arg("product_id")
        if raw_id is None:
            raise ApiError(400, "product_id is required")
        product_id = canonical_id(raw_id, PRODUCT_ID, "SKU-100")
        size, color = call.arg("size"), call.arg("color")
        with self.db.transaction() as conn:
            product = conn.execute("SELECT id, name FROM products WHERE id = ?", (product_id,)).fetchone()
            if product is None:
                raise ApiError(404, "product not found")
            variants = conn.execute(
                "SELECT size, color, quantity FROM variants WHERE product_id = ? ORDER BY position",
                (product_id,),
            ).fetchall()

        def matches(variant):
            return (size is None or variant["size"].casefold() == size.casefold()) and (
                color is None or variant["color"].casefold() == color.casefold()
            )

        # Every variant is listed, not only the matching ones, so "size 10 in blue is sold
        # out" can be followed by "but we have it in black".
        return {
            "product_id": product["id"],
            "name": product["name"],
            "quantity": sum(variant["quantity"] for variant in variants if matches(variant)),
            "variants": [dict(variant) for variant in variants],
        }

    def find_customers(self, call):
        email = call.arg("email")
        if email is None:
            raise ApiError(400, "email is required")
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, name, email, phone FROM customers WHERE email = ? COLLATE NOCASE ORDER BY id",
                (email,),
            ).fetchall()
        return 200, [dict(row) for row in rows], ()

    def get_account(self, call, account_id):
        account_id = canonical_id(account_id, ACCOUNT_ID, "ACC-12345678")
        with self.db.transaction() as conn:
            account = conn.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
        if account is None:
            raise ApiError(404, "account not found")
        return {
            "account_id": account["id"],
            "owner": account["owner"],
            "currency": account["currency"],
            "balance": money(account["balance_cents"]),
            "available_balance": money(account["available_cents"]),
        }

    def list_transactions(self, call, account_id):
        account_id = canonical_id(account_id, ACCOUNT_ID, "ACC-12345678")
        raw_limit = call.query.get("limit", str(DEFAULT_TRANSACTIONS)).strip()
        if not raw_limit.isascii() or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_TRANSACTIONS:
            raise ApiError(400, f"limit must be a whole number from 1 to {MAX_TRANSACTIONS}")
        with self.db.transaction() as conn:
            account = conn.execute("SELECT currency FROM accounts WHERE id = ?", (account_id,)).fetchone()
            if account is None:
                raise ApiError(404, "account not found")
            rows = conn.execute(
                "SELECT id, date, description, amount_cents FROM transactions WHERE account_id = ?"
                " ORDER BY date DESC, sequence DESC LIMIT ?",
                (account_id, int(raw_limit)),
            ).fetchall()
        return {
            "account_id": account_id,
            "transactions": [
                {
                    "id": row["id"],
                    "date": row["date"],
                    "description": row["description"],
                    "amount": money(row["amount_cents"]),
                    "currency": account["currency"],
                }
                for row in rows
            ],
        }

    def list_services(self, call):
        return {"services": list(SERVICES)}

    def book_appointment(self, call):
        if not same_secret(bearer_token(call), self.booking_token):
            raise ApiError(
                401,
                "a valid bearer token is required",
                headers=[("WWW-Authenticate", 'Bearer realm="demo_store"')],
            )
        body = call.json_object()
        service = required_text(body, "service", max_length=64).lower()
        raw_date = required_text(body, "date", max_length=10)
        raw_time = required_text(body, "time", max_length=5)
        try:
            if not ISO_DATE.fullmatch(raw_date):
                raise ValueError(raw_date)
            day = date.fromisoformat(raw_date)
        except ValueError:
            raise ApiError(400, "date must be a calendar date written YYYY-MM-DD") from None
        if not CLOCK_TIME.fullmatch(raw_time):
            raise ApiError(400, "time must be a 24-hour time written HH:MM")
        customer = body.get("customer")
        if not isinstance(customer, dict):
            raise ApiError(400, "customer is required and must be an object with name, email and phone")
        # Each contact detail is optional: a caller on the phone may give a name but no email,
        # and the webhook sends what it has (empty strings, or a null caller id). One is enough.
        name = optional_text(customer, "name", max_length=200, where="customer.")
        email = optional_text(customer, "email", max_length=254, where="customer.")
        phone = optional_text(customer, "phone", max_length=40, where="customer.")
        if email is not None and "@" not in email.strip("@"):
            raise ApiError(400, "customer.email must be an email address")
        if name is None and email is None and phone is None:
            raise ApiError(400, "customer needs at least a name, an email or a phone number")
        key = self.idempotency_key(call)
        operation = {
            "op": "appointment",
            "service": service,
            "date": raw_date,
            "time": raw_time,
            "customer": {"name": name, "email": email and email.lower(), "phone": phone},
        }
        now = self.clock()
        with self.db.transaction() as conn:
            replayed = self.replay(conn, key, operation)
            if replayed:
                return replayed
            if service not in SERVICES:
                raise ApiError(
                    422,
                    f"unknown service {service!r}; we offer {', '.join(SERVICES)}",
                    code="unknown-service",
                )
            slot = datetime.combine(day, datetime.strptime(raw_time, "%H:%M").time(), tzinfo=now.tzinfo)
            if slot <= now:
                raise ApiError(422, f"{raw_date} {raw_time} is in the past", code="date-in-past")
            if not (OPENING_TIME <= raw_time <= LAST_SLOT and raw_time.endswith((":00", ":30"))):
                raise ApiError(
                    422,
                    f"appointments start on the hour or half hour from {OPENING_TIME} to {LAST_SLOT}",
                    code="outside-hours",
                )
            if conn.execute(
                "SELECT 1 FROM appointments WHERE service = ? AND date = ? AND time = ?",
                (service, raw_date, raw_time),
            ).fetchone():
                raise ApiError(
                    422, f"{service} at {raw_time} on {raw_date} is already booked", code="slot-taken"
                )
            cursor = conn.execute(
                "INSERT INTO appointments (service, date, time, customer_name, customer_email, customer_phone)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (service, raw_date, raw_time, name, email, phone),
            )
            booked = {
                "confirmation_id": f"APT-{cursor.lastrowid}",
                "service": service,
                "date": raw_date,
                "time": raw_time,
                "customer_name": name,
            }
            self.remember(conn, key, operation, 201, booked)
        return 201, booked, ()

    def get_current_weather(self, call):
        if not same_secret((call.header("X-API-Key") or "").strip(), self.weather_key):
            raise ApiError(401, "a valid X-API-Key header is required")
        raw_city = call.arg("city")
        if raw_city is None:
            raise ApiError(400, "city is required")
        city = find_city(raw_city)
        if city is None:
            raise ApiError(404, "unknown city")
        return current_weather(city, self.clock().date())
