"""Read parameter values in the shapes Dialogflow CX system entities resolve to.

CX hands a handler ``@sys.date`` as ``{"year": 2026, "month": 11, "day": 30}``, ``@sys.time``
as ``{"hours": 15, "minutes": 0, …}``, ``@sys.unit-currency`` as ``{"amount": 12.5,
"currency": "USD"}``, and every number as a float. These helpers accept those shapes and the
plain strings a test console or another integration sends, and answer ``None`` for anything
they cannot read, so a handler can ask again instead of failing.

    >>> as_date({"year": 2026.0, "month": 11.0, "day": 30.0})
    datetime.date(2026, 11, 30)
    >>> as_time("3:05 pm"), as_text(1001.0)
    (datetime.time(15, 5), '1001')
"""

import datetime
import math
import re

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Not ZWNJ and ZWJ (U+200C, U+200D): Persian and Indic names and emoji need them.
_ZERO_WIDTH = re.compile(r"[\u200b\u2060\ufeff]")
# Every integer below 2**53 is exactly a float: what CX sends for an id or a count said aloud.
_EXACT_FLOAT_INTS = 2**53
_TIME_RE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*([ap]\.?m\.?)?\s*$", re.IGNORECASE)


def as_text(value):
    """A scalar as one line of text (``1001.0`` → ``"1001"``); ``None`` for structures.

    Runs of whitespace, line breaks and control characters become one space, and zero-width
    characters go: what speech-to-text or a chat widget adds ("Paris\\n\\n", "ada@example.com"
    with a zero-width space, "Dental  Cleaning") must neither be read back nor break a lookup.
    """
    if value.__class__ is str:
        # Most values are text: asking first spares them the checks below (~2k instructions).
        text = value
    elif value is None or isinstance(value, bool):
        return None
    elif isinstance(value, (int, float, str)):
        if isinstance(value, float):
            if not math.isfinite(value):  # JSON's 1e999: no city, id or name is "inf"
                return None
            if value.is_integer() and abs(value) < _EXACT_FLOAT_INTS:
                value = int(value)  # 1001.0 → "1001"; 1e300 stays "1e+300", not 301 digits
        text = str(value)
    else:
        return None
    if not text.isprintable():  # rare: a line break, a control or a zero-width character
        text = _CONTROLS.sub(" ", _ZERO_WIDTH.sub("", text))
    return " ".join(text.split()) or None


def as_name(value):
    """A person's name as ``@sys.person`` resolves it (``{"name": "Ada Lovelace"}``) or as
    text; ``None`` for anything else.

        >>> as_name({"name": "Ada Lovelace"}), as_name("Grace Hopper")
        ('Ada Lovelace', 'Grace Hopper')
    """
    if isinstance(value, dict):
        value = value.get("name")
    return as_text(value)


def as_number(value):
    """A number from a float, a ``@sys.unit-currency`` struct or a string (``"1,250.5"``);
    ``None`` for anything else, and for NaN and the infinities."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, dict) and "amount" in value:
        return as_number(value["amount"])
    else:
        try:
            number = float(str(value).replace(",", "").strip())
        except ValueError:
            return None
    # "nan", "inf" and JSON's 1e999 are numbers to float(), never an amount or a count.
    return number if isinstance(number, int) or math.isfinite(number) else None


def is_whole_number(text):
    """Whether ``text`` is digits ``int()`` reads, as a Content-Length must be: "²" is a digit
    to ``str.isdigit``, and ``int("²")`` raises.

        >>> is_whole_number("1024"), is_whole_number("²"), is_whole_number("-1")
        (True, False, False)
    """
    return text.isascii() and text.isdigit()


def _int(value):
    number = as_number(value)
    if number is None or number != int(number):
        raise ValueError(value)
    return int(number)


def as_date(value):
    """``@sys.date`` (a struct) or an ISO date/datetime string, as a ``datetime.date``."""
    try:
        if isinstance(value, dict):
            return datetime.date(_int(value["year"]), _int(value["month"]), _int(value["day"]))
        if isinstance(value, str):
            text = value.strip()
            if len(text) <= 10:
                return datetime.date.fromisoformat(text)
            # A datetime ("2026-11-30T15:00:00Z") reads as its own calendar date, the one the
            # caller said; the whole text must be one, so "2026-11-30 or so" is not a date.
            return datetime.datetime.fromisoformat(text).date()
    except (KeyError, ValueError, TypeError, OverflowError):
        return None
    return None


def as_time(value):
    """``@sys.time`` (a struct) or ``"15:00"`` / ``"3 pm"`` / an ISO datetime, as a ``datetime.time``."""
    try:
        if isinstance(value, dict):
            return datetime.time(_int(value.get("hours", 0)), _int(value.get("minutes", 0)))
        if isinstance(value, str):
            text = value.strip()
            if "T" in text:
                text = text.split("T", 1)[1][:8]
            match = _TIME_RE.match(text)
            if not match:
                return None
            hours, minutes = int(match[1]), int(match[2] or 0)
            if match[4]:
                if not 1 <= hours <= 12:
                    return None
                hours = hours % 12 + (12 if match[4][0].lower() == "p" else 0)
            return datetime.time(hours, minutes)
    except (KeyError, ValueError, TypeError, OverflowError):
        return None
    return None
