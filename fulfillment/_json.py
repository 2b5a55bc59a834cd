"""Compact JSON encoders, built once and reused.

``json.JSONEncoder.encode`` builds a new C encoder, and a dict to detect cycles, on every call:
~1.2 µs of the ~4.7 µs that encoding a call's summary line cost (measured), and every webhook
call encodes twice (the answer and the summary line). Here the C encoder is built once per
purpose and called directly; the output is what ``json.dumps(obj, ensure_ascii=False,
separators=(",", ":"))`` writes (or with ``ensure_ascii=True``), byte for byte
(``tests/test_json.py``), with one exception: it is always JSON.

    >>> dumps = compact_encoder()
    >>> dumps({"a": [1, 2.5, "é"], "b": float("inf")})
    '{"a":[1,2.5,"é"],"b":"Infinity"}'

``json.dumps`` writes an infinite or NaN float as the bare word ``Infinity`` or ``NaN``, which no
JSON parser but Python's accepts. Such floats do reach us: a request's ``1e999`` is valid JSON
and the proto parser reads it as infinity, and a handler may echo it into a session parameter
or a handoff's metadata. Here they are written as the strings ``"Infinity"``, ``"-Infinity"``
and ``"NaN"``, as proto3 JSON spells them.

A cycle is not looked for: it ends in ``RecursionError`` instead of ``ValueError``. Both are
bugs of the caller, and both end up in the same ``except Exception``.
"""

import json
import math
from json import encoder as _encoder


def _not_serializable(value):
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def compact_encoder(default=None, *, ensure_ascii=False):
    """A function ``obj -> str``: compact JSON, non-ASCII kept as is unless ``ensure_ascii``;
    ``default`` as in json; non-finite floats as strings."""
    make = getattr(_encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator: the documented way
        encode = json.JSONEncoder(
            ensure_ascii=ensure_ascii, separators=(",", ":"), default=default, allow_nan=False
        ).encode
    else:
        # c_make_encoder(markers, default, encoder, indent, key_separator, item_separator,
        #                sort_keys, skipkeys, allow_nan), as json.JSONEncoder.iterencode calls it.
        strings = _encoder.encode_basestring_ascii if ensure_ascii else _encoder.encode_basestring
        chunks = make(None, default or _not_serializable, strings, None, ":", ",", False, False, False)

        def encode(obj):
            return "".join(chunks(obj, 0))

    def dumps(obj):
        try:
            return encode(obj)
        except ValueError:  # the encoder met a NaN or an infinity (allow_nan is off)
            return encode(_finite(obj))

    return dumps


def _finite(value):
    """``value`` with every non-finite float (in lists, tuples and dict values) as a string."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
