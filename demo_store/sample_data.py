"""The sample records the demo store starts with, and the code that loads them.

Dates are days relative to the day the store starts, so "delivered three days ago" stays
true whenever the demo runs. Money is in integer cents, so totals add up exactly.

    >>> from datetime import date
    >>> from demo_store.db import Database
    >>> db = Database()
    >>> with db.transaction() as conn:
    ...     seed(conn, date(2030, 1, 31))
    ...     conn.execute("SELECT delivered_on FROM orders WHERE id = 'ORD-1001'").fetchone()[0]
    '2030-01-28'
"""

from datetime import date, timedelta

# id, name, email, phone. The two Smiths share an email, so a lookup can return several
# customers (the reason ``GET /customers`` answers with a list).
CUSTOMERS = (
    ("CUS-1001", "Ada Lovelace", "ada.lovelace@example.com", "+1 415 555 0101"),
    ("CUS-1002", "Grace Hopper", "grace.hopper@example.com", "+1 415 555 0102"),
    ("CUS-1003", "Alan Turing", "alan.turing@example.com", "+44 20 7946 0103"),
    ("CUS-1004", "Jane Smith", "smith.family@example.com", "+1 212 555 0104"),
    ("CUS-1005", "John Smith", "smith.family@example.com", "+1 212 555 0105"),
)

# id, name, unit price in cents, variants as (size, color, quantity on hand).
PRODUCTS = (
    (
        "SKU-100",
        "Trail Running Shoe",
        8999,
        (("8", "black", 4), ("9", "black", 7), ("10", "black", 2), ("9", "blue", 3), ("10", "blue", 0)),
    ),
    (
        "SKU-200",
        "Merino Wool Sweater",
        5900,
        (("S", "grey", 5), ("M", "grey", 8), ("L", "grey", 1), ("M", "navy", 6), ("L", "navy", 0)),
    ),
    ("SKU-300", "Canvas Tote Bag", 2450, (("one-size", "natural", 12), ("one-size", "black", 9))),
    ("SKU-400", "Leather Belt", 3500, (("M", "brown", 0), ("L", "brown", 0))),
    ("SKU-500", "Wireless Earbuds", 12900, (("one-size", "white", 15),)),
)

# id, customer, status, tracking number, estimated delivery (days from today),
# delivered on (days from today), lines as (product id, quantity).
ORDERS = (
    # Delivered three days ago: both items can be returned.
    ("ORD-1001", "CUS-1001", "delivered", "1Z999AA10123456784", None, -3, (("SKU-100", 1), ("SKU-300", 2))),
    # Shipped yesterday, arriving in two days: a return is refused as not delivered yet.
    ("ORD-1002", "CUS-1002", "shipped", "1Z999AA10123456785", 2, None, (("SKU-200", 1),)),
    # Still being packed: no tracking number yet.
    ("ORD-1003", "CUS-1001", "processing", None, 5, None, (("SKU-500", 1),)),
    # Delivered 45 days ago: outside the 30-day return window.
    ("ORD-1004", "CUS-1003", "delivered", "1Z999AA10123456786", None, -45, (("SKU-400", 1),)),
    # Cancelled before shipping.
    ("ORD-1005", "CUS-1002", "cancelled", None, None, None, (("SKU-300", 1),)),
    # Delivered ten days ago; the sweater was already returned (RETURNS below), the bag was not.
    ("ORD-1006", "CUS-1003", "delivered", "1Z999AA10123456787", None, -10, (("SKU-200", 1), ("SKU-300", 1))),
)

# return number, order, item, reason, days from today. New returns are numbered after these.
RETURNS = ((5001, "ORD-1006", "SKU-200", "too small", -8),)

# id, owner, currency, balance in cents, available balance in cents (lower while card
# payments are pending), transactions as (days from today, description, amount in cents).
ACCOUNTS = (
    (
        "ACC-12345678",
        "Ada Lovelace",
        "USD",
        254317,
        234317,
        (
            (-12, "Restaurant Da Vinci", -6280),
            (-9, "Gym membership", -4500),
            (-6, "ATM withdrawal", -10000),
            (-5, "Online bookstore", -3599),
            (-3, "Electric company", -12000),
            (-2, "Salary: Analytical Engines Ltd", 320000),
            (-1, "Grocery Mart", -8234),
            (0, "Coffee Corner", -450),
        ),
    ),
    (
        "ACC-87654321",
        "Grace Hopper",
        "EUR",
        12000,
        12000,
        ((-20, "Transfer from savings", 50000), (-15, "Rent share", -35000), (-4, "Train ticket", -3000)),
    ),
    # A new account with nothing on it yet: its transaction list is empty.
    ("ACC-11112222", "Alan Turing", "USD", 0, 0, ()),
)

# The services that can be booked, in the order ``GET /appointments/services`` lists them.
SERVICES = ("haircut", "consultation", "dental-cleaning", "car-service")

# confirmation number, service, days from today, time, customer name, email, phone: a slot
# that is already taken, so a demo can hear "that time is booked".
APPOINTMENTS = ((2001, "haircut", 1, "10:00", "Alan Turing", "alan.turing@example.com", "+44 20 7946 0103"),)


def _day(today, offset):
    return None if offset is None else (today + timedelta(days=offset)).isoformat()


def seed(conn, today: date):
    """Insert every sample record, with dates counted from ``today``."""
    conn.executemany("INSERT INTO customers (id, name, email, phone) VALUES (?, ?, ?, ?)", CUSTOMERS)
    prices = {}
    for product_id, name, price_cents, variants in PRODUCTS:
        prices[product_id] = (name, price_cents)
        conn.execute(
            "INSERT INTO products (id, name, price_cents) VALUES (?, ?, ?)", (product_id, name, price_cents)
        )
        conn.executemany(
            "INSERT INTO variants (product_id, size, color, quantity, position) VALUES (?, ?, ?, ?, ?)",
            [(product_id, size, color, qty, pos) for pos, (size, color, qty) in enumerate(variants)],
        )
    for order_id, customer_id, status, tracking, eta, delivered, lines in ORDERS:
        conn.execute(
            "INSERT INTO orders (id, customer_id, status, tracking_number, estimated_delivery, delivered_on,"
            " currency) VALUES (?, ?, ?, ?, ?, ?, 'USD')",
            (order_id, customer_id, status, tracking, _day(today, eta), _day(today, delivered)),
        )
        conn.executemany(
            "INSERT INTO order_items (order_id, item_id, name, quantity, price_cents, position)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (order_id, product_id, prices[product_id][0], quantity, prices[product_id][1], pos)
                for pos, (product_id, quantity) in enumerate(lines)
            ],
        )
    for number, order_id, item_id, reason, created in RETURNS:
        conn.execute(
            "INSERT INTO returns (id, order_id, item_id, reason, refund_cents, status, created_on)"
            " SELECT ?, order_id, item_id, ?, quantity * price_cents, 'refunded', ? FROM order_items"
            " WHERE order_id = ? AND item_id = ?",
            (number, reason, _day(today, created), order_id, item_id),
        )
    sequence = 0
    for account_id, owner, currency, balance, available, transactions in ACCOUNTS:
        conn.execute(
            "INSERT INTO accounts (id, owner, currency, balance_cents, available_cents) VALUES (?, ?, ?, ?, ?)",
            (account_id, owner, currency, balance, available),
        )
        for offset, description, amount in transactions:
            sequence += 1
            conn.execute(
                "INSERT INTO transactions (id, sequence, account_id, date, description, amount_cents)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (f"TXN-{sequence:06d}", sequence, account_id, _day(today, offset), description, amount),
            )
    conn.executemany(
        "INSERT INTO appointments (id, service, date, time, customer_name, customer_email, customer_phone)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(number, service, _day(today, offset), *rest) for number, service, offset, *rest in APPOINTMENTS],
    )
