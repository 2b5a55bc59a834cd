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


class ReplayCache:
    def __init__(self, ttl, maxsize=4096):
        from cachetools import TTLCache  # imported here: only side-effecting tags need it

        self._done = TTLCache(maxsize=maxsize, ttl=ttl)
        self._running = {}
        self._lock = threading.Lock()

    def run(self, key, compute):
        """``(result, replayed)``: the stored result for ``key``, else ``compute()``'s, stored.
        Raises ``StillRunning`` rather than run ``compute`` beside a first call that has not
        finished within the current deadline."""
        with self._lock:
            done = self._done.get(key)
            if done is not None:
                return done, True
            running = self._running.get(key)
            owner = running is None
            if owner:
                running = self._running[key] = threading.Lock()
                running.acquire()
        if not owner:
            # Same turn, same tag, already in progress: wait for it (within our own budget).
            if not running.acquire(timeout=max(deadline.remaining(), 0)):
                raise StillRunning(key)
            running.release()
            with self._lock:
                done = self._done.get(key)
            if done is not None:
                return done, True
            # The first call raised (a bug): nothing was stored, so run it.
            return compute(), False
        try:
            result = compute()
            with self._lock:
                self._done[key] = result
            return result, False
        finally:
            with self._lock:
                del self._running[key]
            running.release()
