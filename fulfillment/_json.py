"""Compact JSON encoders, built once and reused.

``json.JSONEncoder.encode`` builds a new C encoder, and a dict to detect cycles, on every call:
~1.2 µs of the ~4.7 µs that encoding a call's summary line cost (measured), and every webhook
call encodes twice (the answer and the summary line). Here the C encoder is built once per
purpose and called directly; the output is what ``json.dumps(obj, ensure_ascii=False,
separators=(",", ":"))`` writes (or with ``ensure_ascii=True``), byte for byte
(``tests/test_json.py``).

    >>> dumps = compact_encoder()
    >>> dumps({"a": [1, 2.5, "é"]})
    '{"a":[1,2.5,"é"]}'

A cycle is not looked for: it ends in ``RecursionError`` instead of ``ValueError``. Both are
bugs of the caller, and both end up in the same ``except Exception``.
"""

import json
from json import encoder as _encoder


def _not_serializable(value):
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def compact_encoder(default=None, *, ensure_ascii=False):
    """A function ``obj -> str``: compact JSON, non-ASCII kept as is unless ``ensure_ascii``;
    ``default`` as in json."""
    make = getattr(_encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator: the documented way
        return json.JSONEncoder(ensure_ascii=ensure_ascii, separators=(",", ":"), default=default).encode
    # c_make_encoder(markers, default, encoder, indent, key_separator, item_separator,
    #                sort_keys, skipkeys, allow_nan), as json.JSONEncoder.iterencode calls it.
    strings = _encoder.encode_basestring_ascii if ensure_ascii else _encoder.encode_basestring
    chunks = make(None, default or _not_serializable, strings, None, ":", ",", False, False, True)

    def dumps(obj):
        return "".join(chunks(obj, 0))

    return dumps
