"""The demo store's in-memory SQLite database, shared by every request thread.

One connection, one lock: the HTTP server runs a thread per connection, and an in-memory
database exists only inside the connection that created it, so every thread uses this one
connection and takes turns. Each ``transaction()`` holds the lock from ``BEGIN`` to
``COMMIT``, which also makes check-then-insert sequences (idempotency keys, "already
returned", "slot taken") atomic without relying on SQLite's own locking.

    >>> db = Database()
    >>> with db.transaction() as conn:
    ...     conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    0
    >>> db.close()
"""

import sqlite3
import threading
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT
);
CREATE INDEX customers_by_email ON customers (email COLLATE NOCASE);

CREATE TABLE products (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    price_cents INTEGER NOT NULL
);
CREATE TABLE variants (
    product_id TEXT NOT NULL REFERENCES products (id),
    size TEXT NOT NULL,
    color TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    position INTEGER NOT NULL,
    PRIMARY KEY (product_id, size, color)
);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    status TEXT NOT NULL CHECK (status IN ('processing', 'shipped', 'delivered', 'cancelled')),
    tracking_number TEXT,
    estimated_delivery TEXT,
    delivered_on TEXT,
    currency TEXT NOT NULL
);
CREATE TABLE order_items (
    order_id TEXT NOT NULL REFERENCES orders (id),
    item_id TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    price_cents INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (order_id, item_id)
);
-- A line is returned whole, once: the unique index backs up the "already returned" check.
CREATE TABLE returns (
    id INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    refund_cents INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_on TEXT NOT NULL,
    FOREIGN KEY (order_id, item_id) REFERENCES order_items (order_id, item_id),
    UNIQUE (order_id, item_id)
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance_cents INTEGER NOT NULL,
    available_cents INTEGER NOT NULL
);
CREATE TABLE transactions (
    id TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    date TEXT NOT NULL,
    description TEXT NOT NULL,
    amount_cents INTEGER NOT NULL
);
CREATE INDEX transactions_by_account ON transactions (account_id, date, sequence);

CREATE TABLE appointments (
    id INTEGER PRIMARY KEY,
    service TEXT NOT NULL,
    date TEXT NOT NULL,
    time TEXT NOT NULL,
    customer_name TEXT,
    customer_email TEXT,
    customer_phone TEXT,
    UNIQUE (service, date, time)
);

-- The answer given to the first request that carried an Idempotency-Key, replayed to its
-- retries. ``fingerprint`` tells a retry from a different request reusing the key.
CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""


class Database:
    """An in-memory SQLite database with the demo schema, safe to use from any thread."""

    def __init__(self):
        # isolation_level=None: the module issues no implicit BEGINs, transaction() owns them.
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self):
        """Hold the database for one unit of work: committed on success, rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self):
        # Taken under the lock so a transaction in flight finishes first.
        with self._lock:
            self._conn.close()
