"""The Dialogflow CX webhook protocol, as a small library that knows no business.

    from fulfillment import Response
    from fulfillment.app import WebhookApp

    app = WebhookApp()

    @app.tag("greet")
    def greet(request):
        return Response(f"Hello! You said {request.text!r}.")

``app.resolve(body)`` is a pure dict-in, dict-out call; ``app.handle_http(request)`` is the
functions-framework face (see ``main.py``).
"""

from fulfillment.errors import (
    BackendError,
    BadBackendData,
    NotFound,
    Rejected,
    Timeout,
    Unavailable,
)
from fulfillment.request import WebhookRequest
from fulfillment.response import Response

__all__ = [
    "BackendError",
    "BadBackendData",
    "NotFound",
    "Rejected",
    "Response",
    "Timeout",
    "Unavailable",
    "WebhookRequest",
]
