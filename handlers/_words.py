"""How numbers, money and dates sound when the agent says them."""

from fulfillment import clock

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
# Currencies without minor units (ISO 4217): "¥1,200", never "¥1,200.00".
_WHOLE_UNITS = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "PYG", "UGX", "XAF", "XOF"})

# The agent speaks English whatever the machine's locale (strftime's %A and %B follow it, and
# cost a C call each on every order lookup).
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


_WITHOUT_YEAR_DAYS = 182


def money(amount, currency="USD"):
    """``money(1250.5)`` → ``"$1,250.50"``; ``money(-3, "EUR")`` → ``"minus €3.00"``;
    ``money(1200, "JPY")`` → ``"¥1,200"``."""
    code = (currency or "").upper()
    symbol = _SYMBOLS.get(code)
    figure = f"{abs(amount):,.0f}" if code in _WHOLE_UNITS else f"{abs(amount):,.2f}"
    sign = "minus " if amount < 0 and figure.strip("0.") else ""  # never "minus $0.00"
    return f"{sign}{symbol}{figure}" if symbol else f"{sign}{figure} {code}".rstrip()


def day(date, today=None):
    """``"today"``, ``"tomorrow"``, ``"yesterday"``, else ``"Monday, December 1"``, with the
    year when the date is more than half a year away (``"Friday, June 14, 2030"``)."""
    today = today or clock.today()
    delta = (date - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    spoken = f"{_WEEKDAYS[date.weekday()]}, {_MONTHS[date.month - 1]} {date.day}"
    # Without it, a booking four years out sounds like one next June.
    return spoken if abs(delta) <= _WITHOUT_YEAR_DAYS else f"{spoken}, {date.year}"


def on_day(date, today=None):
    """``day()`` for after a verb: ``"tomorrow"``, ``"on Monday, December 1"``."""
    spoken = day(date, today)
    return spoken if spoken in ("today", "tomorrow", "yesterday") else f"on {spoken}"


def before_more_words(spoken):
    """A spoken date that more words follow: one that ends with its year takes a comma
    (``"on Friday, June 14, 2030, at 10:30 AM"``)."""
    return f"{spoken}," if spoken[-4:].isdigit() else spoken


def sentence_case(text):
    """Capitalize the first letter only (``str.capitalize`` would lower-case month names)."""
    return text[:1].upper() + text[1:]


def spoken_time(time):
    """``15:00`` → ``"3 PM"``, ``09:30`` → ``"9:30 AM"``."""
    hour = time.hour % 12 or 12
    suffix = "AM" if time.hour < 12 else "PM"
    return f"{hour} {suffix}" if time.minute == 0 else f"{hour}:{time.minute:02d} {suffix}"


def spoken_list(items):
    """``["a", "b", "c"]`` → ``"a, b and c"``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
