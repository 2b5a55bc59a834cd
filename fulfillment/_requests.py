"""``requests``, imported without the character-set detector it loads and this service never uses.

requests imports ``charset_normalizer`` (or ``chardet``) at import time, only to guess the
encoding of a text body read through ``Response.text`` when the server names none. This
service reads every backend body as bytes and decodes JSON itself, and the detector costs
2.9 MiB of memory per instance and ~9 ms of cold start (measured): on the ID-token path that
was the difference between 1.31x and 1.26x the memory of bare functions-framework. requests
supports running without either (``requests.compat.chardet`` is then ``None`` and
``apparent_encoding`` answers ``"utf-8"``), so the detector is kept out while requests is
first imported, and only then: a handler that imports ``charset_normalizer`` itself later
gets it as usual. If requests was already imported (tests, tools), nothing changes.

    from fulfillment._requests import requests
"""

import sys
import warnings

_UNUSED = ("chardet", "charset_normalizer")


def _import_requests():
    blocked = [name for name in _UNUSED if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # "import name" now raises ImportError
    try:
        with warnings.catch_warnings():
            # requests says it found no detector; that is the point.
            warnings.filterwarnings("ignore", message=".*character detection dependency.*")
            import requests
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return requests


requests = _import_requests()

__all__ = ["requests"]
