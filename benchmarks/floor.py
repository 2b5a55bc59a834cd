"""The least a webhook call without backend work can do and still do what the issues ask.

Not the service: a measuring stick for ``percall.py`` and for scenario 1 of ``run.py``. It
skips the router, the error policy, the auth check, the call context and the stdlib logging
record, and keeps only the work every call must do: read the body, decode and validate it
against the WebhookRequest schema, run the tag's handler, render and size-check the
WebhookResponse, and write one JSON summary line with the fields issue 6 names. Its CPU per call, next to ``main.py``'s and bare functions-framework's,
says how much of the service's cost is removable overhead and how much is the work itself.
"""

import io
import sys
import time
from pathlib import Path

import functions_framework

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the service, beside us
import main  # noqa: F401 - the service's start-up (logging, handlers), as deployed
from fulfillment import logs
from fulfillment._validate import parse_body
from fulfillment.http import JSONAnswer
from fulfillment.request import WebhookRequest
from fulfillment.response import fit
from handlers import app


@functions_framework.http
def webhook(request):
    started = time.perf_counter()
    environ = request.environ
    data = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(), "0"
    request._cached_data = data  # functions-framework's get_data() reads it, as the service's does
    call = WebhookRequest(parse_body(data))
    reply = app._handlers[call.tag].func(call)
    answer, _ = fit(reply.to_dict(call), 64 * 1024, "")
    summary = {
        "tag": call.tag,
        "outcome": reply.outcome,
        "session_id": call.session_id,
        "detect_intent_response_id": call.detect_intent_response_id,
        "query_kind": call.query_kind,
        "language": call.language_code,
        "status": 200,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    line = {
        "severity": "INFO",
        "message": f"{call.tag} 200 {reply.outcome}",
        "time": logs._rfc3339(time.time()),
        "logger": "fulfillment.call",
        "call": summary,
        logs.LABELS: {"tag": call.tag, "session_id": call.session_id},
    }
    logs._LINES.write(logs._dumps(line) + "\n")
    return JSONAnswer(answer, 200)
