"""The Cloud Function: one functions-framework entry point, ``webhook``.

Deployed with ``--entry-point=webhook``; served locally with
``functions-framework --target webhook``. All the work happens in ``fulfillment`` (the
Dialogflow CX protocol) and ``handlers`` (what each tag does); this file only connects them.
"""

import functions_framework

from fulfillment.http import json_errors
from handlers import app

app.start()

# Errors raised by the framework itself (unknown paths such as /favicon.ico, a broken chunked
# body) answer JSON too, never an HTML page.
json_errors(functions_framework.errorhandler)


@functions_framework.http
def webhook(request):
    return app.handle_http(request)
