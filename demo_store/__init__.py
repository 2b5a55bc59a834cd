"""A small shop, bank, booking desk and weather service to demo the webhook without backends.

When no real backend is configured the webhook calls this store instead, over real HTTP on
loopback, through the same client code as production. Importing the package does nothing
but define names: no thread, socket or database exists until ``start()`` or ``shared()``.

    >>> import demo_store, requests
    >>> store = demo_store.start()                      # a new store on a free port
    >>> requests.get(f"{store.url}/orders/ORD-1001", timeout=5).json()["status"]
    'delivered'
    >>> store.stop()

``demo_store.shared()`` is the one store of the process, started on first use.
``python -m demo_store --port 8081`` runs one in the foreground. The API and the sample
ids are described in ``demo_store/README.md``.
"""

__all__ = ["DemoStore", "shared", "start"]


def __getattr__(name):
    # The server module (http.server, sqlite3, the sample data) loads on first use, not at
    # import: a webhook with real backends configured never pays for it on a cold start.
    if name in __all__:
        from demo_store import server

        return getattr(server, name)
    raise AttributeError(f"module 'demo_store' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
