"""Answer a repeated webhook call with the answer already given, without acting twice.

Dialogflow may call a webhook again for the same turn (its retry behaviour is undocumented),
and a caller's "yes, book it" must not book twice. For tags registered with
``side_effects=True`` the router keys each call on ``detectIntentResponseId``, the tag and the
request itself (two different requests under one turn id are two calls): a repeat within
``ttl`` seconds gets the stored answer, whatever it was, and a repeat that arrives while the
first is still running waits for it instead of calling the backend in parallel.

Every answer is stored, failures included: after a timeout or a reset the backend may well
have acted, and only the backend could say. Repeating the turn's answer is what the turn
already said; acting again is what it must not do. Backends also get an ``Idempotency-Key``
derived from the turn, the tag and what the write is for (``backend.turn_key``), so the
guarantee holds across instances, where this in-process memory cannot help.

    >>> replay = ReplayCache(ttl=600)
    >>> replay.run(("turn-1", "book", b"digest"), lambda: b"booked")
    (b'booked', False)
    >>> replay.run(("turn-1", "book", b"digest"), lambda: b"booked again")
    (b'booked', True)

Memory is bounded (``maxsize`` turns, the most recent kept): on one instance, more side
effects than that within ``ttl`` lose the oldest; the backend's Idempotency-Key still holds.
"""

import threading

from fulfillment import deadline


class StillRunning(Exception):
    """The first call for this turn is still running, and the repeat's own time is up."""


class FirstCallFailed(StillRunning):
    """The first call for this turn raised: it may have acted before it did, and nothing
    says what came of it. Its repeats do not act; they cannot confirm it either."""


# Stored for a turn whose first call raised: its repeats raise FirstCallFailed.
_FAILED = object()


class _Run:
    """One first call in progress, and what it came to, handed to the repeats waiting on it."""

    __slots__ = ("done", "result")

    def __init__(self):
        self.done = threading.Event()
        self.result = _FAILED  # until compute() returns


class ReplayCache:
    def __init__(self, ttl, maxsize=4096):
        from cachetools import TTLCache  # imported here: only side-effecting tags need it

        self._done = TTLCache(maxsize=maxsize, ttl=ttl)
        self._running = {}
        self._lock = threading.Lock()

    def run(self, key, compute):
        """``(result, replayed)``: the stored result for ``key``, else ``compute()``'s, stored.
        Raises ``StillRunning`` rather than run ``compute`` beside a first call that has not
        finished within the current deadline, and ``FirstCallFailed`` rather than run it
        again after a first call that raised."""
        with self._lock:
            done = self._done.get(key)
            if done is None:
                running = self._running.get(key)
                owner = running is None
                if owner:
                    running = self._running[key] = _Run()
        if done is not None:
            if done is _FAILED:
                raise FirstCallFailed(key)
            return done, True
        if not owner:
            # Same turn, same tag, already in progress: wait for it (within our own budget).
            # Its result comes from the run itself, not the cache, which may have let it go.
            if not running.done.wait(max(deadline.remaining(), 0)):
                raise StillRunning(key)
            if running.result is _FAILED:
                raise FirstCallFailed(key)
            return running.result, True
        try:
            result = running.result = compute()
            return result, False
        finally:
            with self._lock:
                self._done[key] = running.result  # _FAILED if compute() raised
                del self._running[key]
            running.done.set()
