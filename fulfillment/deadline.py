"""The time left to answer Dialogflow, for the webhook call being served.

The router opens a deadline when a call arrives; every backend call asks ``remaining()`` for
its timeout, so a slow backend eats into one shared budget instead of each call getting a
fresh five seconds.

    >>> with Deadline(2.0):
    ...     0 < remaining() <= 2.0
    True
"""

import contextvars
import time

_current = contextvars.ContextVar("fulfillment_deadline", default=None)

# Outside a webhook call (a script, a test calling the client directly) backends still get a
# bounded timeout rather than none: the budget of a call under the default settings
# (WEBHOOK_TIMEOUT_S 5 − WEBHOOK_SAFETY_MARGIN_S 0.75, see config.Settings).
DEFAULT_BUDGET_S = 4.25


class Deadline:
    """A point in time (monotonic clock) by which the webhook must have its answer."""

    __slots__ = ("at", "_token")

    def __init__(self, budget_s):
        self.at = time.monotonic() + budget_s
        self._token = None

    def remaining(self):
        return self.at - time.monotonic()

    def __enter__(self):
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc):
        _current.reset(self._token)
        return False


def start(budget_s):
    """Open a deadline of ``budget_s`` for the rest of the current context; returns it.

    For a call run in a context of its own (``contextvars.copy_context().run``, as
    ``WebhookApp.handle_http`` runs each): the copy, and the deadline with it, is dropped
    when the call returns, so nothing needs resetting as ``with Deadline(...)`` does.
    """
    deadline = Deadline(budget_s)
    _current.set(deadline)
    return deadline


def current():
    """The deadline of the call being served, or ``None`` outside one."""
    return _current.get()


def remaining():
    """Seconds left for the call being served (may be negative when it is already late)."""
    deadline = _current.get()
    if deadline is None:
        return DEFAULT_BUDGET_S
    return deadline.remaining()
