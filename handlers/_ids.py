"""What callers say, cleaned up for backends: ids (``sku 300`` → ``SKU-300``), email
addresses, the punctuation speech-to-text ends an utterance with."""

import functools
import re

# What speech-to-text and typing put between a prefix and its digits: "ORD 1001", "ORD - 1001",
# "ord_1001", "SKU – 100".
_SEPARATOR = r"[\s_\-\u2013\u2014]"
SEPARATORS = re.compile(_SEPARATOR + "+")


# Speech-to-text ends an utterance with a full stop ("paris.", "ord-1002."), a chat with "!"
# or "?": never part of a city, an id or an email address.
_UTTERANCE_END = ".,;:!?\u2026 "

# Deliberately simple: one @, no spaces, a dot in the domain. The backend is the judge of
# whether the address exists; this only catches what speech recognition got wrong.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


# The words callers say for the symbols of an address, as speech-to-text writes them, each
# with the spaces around it. Compiled once: re.sub looking each up in its cache cost ~25k
# instructions per address (cachegrind).
_SPOKEN_SYMBOLS = tuple(
    (re.compile(rf"\s+{word}\s+", re.IGNORECASE), symbol)
    for word, symbol in (
        ("at", "@"),
        ("dot", "."),
        ("underscore", "_"),
        ("(?:dash|hyphen)", "-"),
        ("plus", "+"),
    )
)


# Longer than any id, city or spoken address a caller says. What is longer is not read at all:
# normalising it (five regex passes for a spoken email) cost ~90 ms of CPU per MiB.
MAX_HEARD_CHARS = 1000


def heard(text):
    """``text`` without the punctuation an utterance ends with (``"paris."`` → ``"paris"``);
    ``None`` when nothing is left, or when ``text`` is longer than anyone says."""
    if not text or len(text) > MAX_HEARD_CHARS:
        return None
    return text.rstrip(_UTTERANCE_END) or None


def spoken_id(text):
    """An id as heard, its spelled-out letters and digits joined: ``"O R D 1 0 0 2"`` →
    ``"ORD1002"``, ``"O R D 1002"`` → ``"ORD 1002"``. Groups stay apart (``"ORD 10 02"``):
    which of them belong together is not ours to guess."""
    text = heard(text)
    if not text:
        return None
    words, spelled = [], ""
    for word in text.split():
        if len(word) == 1:
            spelled += word
            continue
        if spelled:
            words.append(spelled)
            spelled = ""
        words.append(word)
    return " ".join([*words, spelled] if spelled else words)


def spoken_email(text):
    """An email address as heard (``"ada dot lovelace at example dot com"``), written as one
    (``ada.lovelace@example.com``), or None when it does not read as an address."""
    text = heard(text)
    if text is None:
        return None
    for spoken_symbol, symbol in _SPOKEN_SYMBOLS:  # "jane underscore doe at example dot com"
        text = spoken_symbol.sub(symbol, text)
    email = text.replace(" ", "").lower()
    return email if EMAIL.match(email) else None


def canonical(prefix, digits):
    """``PREFIX-digits`` with the digits in ASCII.

    ``\\d`` matches a digit of any script, and an agent in another language may well write
    one (Arabic-Indic ``١٠٠١`` is ``1001``); the backend knows only ``0-9``.

        >>> canonical("ORD", "١٠٠١")
        'ORD-1001'
    """
    if not digits.isascii():
        digits = "".join(str(int(digit)) for digit in digits)
    return f"{prefix}-{digits}"


def prefixed_id(text, prefix, digits):
    """``PREFIX-digits`` as the caller said it, in canonical form, or None. ``digits`` is how
    many, as in a regex (``"3,10"``). Spelled, spaced and punctuated ids all count:

        >>> [prefixed_id(said, "ORD", "3,10") for said in ("ord 1001", "O R D 1 0 0 1.", "ORD 1")]
        ['ORD-1001', 'ORD-1001', None]
    """
    pattern = _id_pattern(prefix, digits)
    text = heard(text)
    # An id said as written ("ord 1002") matches as heard, and joining spelled-out letters
    # (spoken_id) could not change that match: it is skipped, ~3.8k instructions. A spelled
    # id ("O R D 1 0 0 2") is matched twice, ~2.6k more than before.
    match = pattern.fullmatch(text) if text else None
    if match is None:
        text = spoken_id(text)
        match = pattern.fullmatch(text) if text else None
    return canonical(prefix, match[1]) if match else None


@functools.cache
def _id_pattern(prefix, digits):
    # The prefix, any run of separators, the digits: what matching the prefix, an optional
    # "-" and the digits accepts once each run of separators is made one "-". One match, where
    # that substitution first cost as much again (6.5k of an id's 16k instructions, cachegrind).
    return re.compile(rf"{re.escape(prefix)}{_SEPARATOR}*(\d{{{digits}}})", re.IGNORECASE)


def sku_of(text):
    """The product code in ``text`` in canonical form (``sku 100`` → ``SKU-100``), or None."""
    return prefixed_id(text, "SKU", "3,6")
