"""The Cloud Function: one functions-framework entry point, ``webhook``.

Deployed with ``--entry-point=webhook``; served locally with
``functions-framework --target webhook``. All the work happens in ``fulfillment`` (the
Dialogflow CX protocol) and ``handlers`` (what each tag does); this file only connects them.
"""

import gc
import sys

# Cold start counts (Dialogflow waits at most 5 s for an answer): compiling this service's
# modules from source costs ~30 ms on every start, loading their bytecode ~1 ms. Keep the
# bytecode even where PYTHONDONTWRITEBYTECODE is set (as on some CI and dev machines); where
# the source folder is read-only, Python skips the write silently.
sys.dont_write_bytecode = False

import functions_framework  # noqa: E402

from fulfillment.config import ConfigurationError  # noqa: E402
from fulfillment.http import JSONAnswer, honour_connection_close, json_errors, json_server_errors  # noqa: E402
from fulfillment.logs import log_refused_start  # noqa: E402

try:
    from handlers import app

    app.start()
except ConfigurationError as refusal:
    # A settings mistake stops the start. One JSON line names every wrong setting where the
    # team looks (Cloud Logging, severity CRITICAL); the traceback that follows on stderr
    # comes out as many plain-text entries.
    log_refused_start(refusal)
    raise

# Errors raised by the framework itself (unknown paths such as /favicon.ico, a broken chunked
# body) answer JSON too, never an HTML page.
json_errors(functions_framework.errorhandler)
# And so do the requests gunicorn refuses before they reach the function (malformed HTTP).
json_server_errors()
# An answer given before the whole body was read closes its connection, and says so.
honour_connection_close()

# Everything loaded so far lives as long as the process: keep the garbage collector from
# walking it again after every few thousand allocations of a webhook call.
gc.freeze()


@functions_framework.http
def webhook(request):
    return JSONAnswer(*app.handle_http(request))
