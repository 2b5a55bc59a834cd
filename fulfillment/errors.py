"""The exceptions the error policy turns into answers: refused requests and failed backends.

(The machinery's own, such as ``ConfigurationError`` or the request validator's, live
beside the code that raises them and never reach a caller as they are.)

Two families, because they end differently:

* ``RequestError``: the HTTP request itself is unacceptable (not JSON, wrong types, too big,
  wrong method, bad credentials). It becomes a JSON error with a 4xx status, so the agent's
  ``webhook.error.*`` handlers fire. Handlers never raise these.
* ``BackendError``: a backend the handler called failed. Each kind carries the ``outcome`` a
  flow can branch on (``$session.params.webhook_outcome``) and the spoken name of the system,
  so that an uncaught one still turns into a true sentence ("our order system isn't answering
  right now") rather than a 500.

    >>> try:
    ...     raise NotFound("order", system="our order system")
    ... except BackendError as err:
    ...     err.outcome
    'not-found'
"""


class WebhookError(Exception):
    """Base of every error this package raises on purpose."""


# --- The HTTP request ----------------------------------------------------------------------


class RequestError(WebhookError):
    """The HTTP request cannot be served; answered as JSON with ``status``."""

    status = 400
    code = "bad-request"
    reason = None  # why it was refused, for the call's log line only (auth sets it)

    def __init__(self, message, *, status=None, code=None, headers=None, logged=None):
        super().__init__(message)
        self.message = message
        # What the call's log line says instead, when ``message`` quotes the caller's data.
        self.logged = logged or message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def body(self):
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(RequestError):
    """Not a WebhookRequest: malformed JSON, not an object, wrong field types."""


class PayloadTooLarge(RequestError):
    status = 413
    code = "payload-too-large"


class UnsupportedMediaType(RequestError):
    status = 415
    code = "unsupported-media-type"


class MethodNotAllowed(RequestError):
    status = 405
    code = "method-not-allowed"


class Unauthenticated(RequestError):
    """No usable credential: 401, so Dialogflow raises ``webhook.error.rejected``."""

    status = 401
    code = "unauthenticated"


class Forbidden(RequestError):
    """A valid identity that is not allowed in: 403 (``webhook.error.rejected``)."""

    status = 403
    code = "forbidden"


# --- Backends ------------------------------------------------------------------------------


class BackendError(WebhookError):
    """A backend call failed. ``outcome`` is what the flow sees; ``system`` is spoken.

    ``may_have_acted`` is true for a write (a POST) that failed after the backend may already
    have carried it out: a timeout waiting for the answer, a reset, a 5xx, an unreadable 201.
    The caller then hears that it is unconfirmed, never "please try again": a new turn is a
    new idempotency key, and trying again could book twice.
    """

    outcome = "error"
    said = "I'm sorry, {system} ran into a problem. Please try again in a moment."
    may_have_acted = False

    def __init__(self, detail="", *, system="our system", status=None):
        super().__init__(detail)
        self.detail = detail  # for logs only: never spoken, may hold the backend's own words
        self.system = system
        self.status = status

    def sentence(self):
        """What the caller hears when a handler lets this error through."""
        return (UNCONFIRMED if self.may_have_acted else self.said).format(system=self.system)


UNCONFIRMED = (
    "I'm sorry, I couldn't get a confirmation from {system}, so I can't tell whether that went "
    "through. I won't try again, so that it isn't done twice: a member of our team can check "
    "it for you."
)


class NotFound(BackendError):
    """The backend answered 404: the thing asked for does not exist."""

    outcome = "not-found"
    said = "I'm sorry, I couldn't find that."


class Rejected(BackendError):
    """The backend refused the request (a 4xx other than 404): it will not work if repeated."""

    outcome = "rejected"
    said = "I'm sorry, {system} couldn't accept that request."
    code = None  # the backend's machine-readable reason ("slot-taken"), for the handler to word


class Unavailable(BackendError):
    """The backend is down, refused the connection, or answered 5xx."""

    outcome = "unavailable"
    said = "I'm sorry, {system} isn't answering right now. Please try again in a few minutes."


class Timeout(Unavailable):
    """The backend did not answer within what was left of the webhook's time budget."""

    outcome = "timeout"
    said = "I'm sorry, {system} is taking too long to answer. Please try again in a few minutes."


class BadBackendData(BackendError):
    """The backend answered, but not with what its contract promises (bad JSON, wrong types)."""

    outcome = "bad-backend-data"
    said = "I'm sorry, {system} gave me an answer I couldn't read. Please try again later."
