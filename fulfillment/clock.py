"""The agent's calendar: what "today" is for the caller, not for the server.

Cloud Functions run in UTC. At 8 PM in New York the server is already on tomorrow, and a
caller booking "today" would hear that yesterday has passed. Set ``AGENT_TIME_ZONE`` to the
time zone in the agent's settings (an IANA name such as ``America/New_York``); without it,
dates are UTC.

    >>> from fulfillment import clock
    >>> clock.today()  # doctest: +SKIP
    datetime.date(2026, 11, 24)

The zone comes from the system's time zone database (Cloud Functions images have it; where
one does not, ``pip install tzdata``). A name that cannot be loaded is logged as an error
once, and dates stay UTC.
"""

import datetime
import logging
import os

log = logging.getLogger("fulfillment")

_zone = None  # resolved on first use, from AGENT_TIME_ZONE


def today():
    """The date in the agent's time zone."""
    return now().date()


def now():
    """The time in the agent's time zone (aware)."""
    return datetime.datetime.now(zone())


def zone():
    """The agent's time zone: ``AGENT_TIME_ZONE``, or UTC."""
    global _zone
    if _zone is None:
        _zone = _load(os.environ.get("AGENT_TIME_ZONE", "").strip())
    return _zone


def reset():
    """Read ``AGENT_TIME_ZONE`` again on next use (tests; after changing the environment)."""
    global _zone
    _zone = None


def _load(name):
    if not name or name.upper() == "UTC":
        return datetime.UTC
    try:
        from zoneinfo import ZoneInfo  # only when a zone is configured: it reads a file

        return ZoneInfo(name)
    # Not found is a KeyError; a malformed name ("../x") a ValueError; an unreadable file OSError.
    except (KeyError, ValueError, OSError) as err:
        log.error("AGENT_TIME_ZONE=%r cannot be used (%s): dates are UTC", name, type(err).__name__)
    return datetime.UTC
