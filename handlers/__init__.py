"""What the agent can do: one module per business area, one short function per tag.

To add a tag, write a function in the module of its business area (or a new module, imported
below) and decorate it with ``@app.tag("your-tag")``. Each function reads like the
conversation it serves: what it needs from the caller, what it asks the backend, what the
caller hears.
"""

from fulfillment.app import WebhookApp

app = WebhookApp()

# Importing a module registers its tags.
from handlers import (  # noqa: E402
    appointments,
    banking,
    customers,
    handoff,
    inventory,
    orders,
    weather,
)

# A new module goes in both lists, one line each.
__all__ = [
    "app",
    "appointments",
    "banking",
    "customers",
    "handoff",
    "inventory",
    "orders",
    "weather",
]
