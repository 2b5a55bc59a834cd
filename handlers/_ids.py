"""Ids as callers say them, written as backends want them: ``sku 300`` → ``SKU-300``."""

import re

# What speech-to-text and typing put between a prefix and its digits: "ORD 1001", "ORD - 1001",
# "ord_1001", "SKU – 100".
SEPARATORS = re.compile(r"[\s_\-\u2013\u2014]+")
SKU = re.compile(r"^SKU-?(\d{3,6})$", re.IGNORECASE)


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


def sku_of(text):
    """The product code in ``text`` in canonical form (``sku 100`` → ``SKU-100``), or None."""
    match = SKU.match(SEPARATORS.sub("-", text.strip())) if text else None
    return canonical("SKU", match[1]) if match else None
