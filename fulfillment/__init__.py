"""The Dialogflow CX webhook protocol, as a small library that knows no business.

    from fulfillment import Response
    from fulfillment.app import WebhookApp

    app = WebhookApp()

    @app.tag("greet")
    def greet(request):
        return Response(f"Hello! You said {request.text!r}.")

``app.resolve(body)`` serves one call without HTTP, dict in and dict out (what tests drive);
``app.handle_http(request)`` is the functions-framework face (see ``main.py``).

What a handler uses: this package (``Response``, the backend errors), ``fulfillment.backend``
(``backend``, ``field``, ``expect``, ``turn_key``), ``fulfillment.values`` (``as_text``,
``as_date``, ...), ``fulfillment.richcontent`` and ``fulfillment.clock``. The other modules
are the machinery behind them.
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
