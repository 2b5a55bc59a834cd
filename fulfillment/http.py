"""JSON answers for errors the web framework raises before our function runs."""

import logging

from fulfillment.response import encode

log = logging.getLogger("fulfillment")


def json_errors(errorhandler):
    """Register JSON error pages with functions-framework's ``errorhandler`` decorator.

    Outside ``functions_framework.create_app`` the decorator is a no-op, so importing
    ``main`` from a test or a script is harmless.
    """
    from werkzeug.exceptions import HTTPException  # already loaded by functions-framework

    def http_error(err):
        code = (err.name or "error").lower().replace(" ", "-")
        body = {"error": {"code": code, "message": err.description or err.name}}
        return encode(body), err.code or 500, {"Content-Type": "application/json"}

    def crash(err):
        log.error("unhandled error outside the webhook function", exc_info=err)
        body = {"error": {"code": "internal", "message": "internal error"}}
        return encode(body), 500, {"Content-Type": "application/json"}

    errorhandler(HTTPException)(http_error)
    errorhandler(500)(crash)
    errorhandler(Exception)(crash)
