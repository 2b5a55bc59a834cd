"""Answer a repeated webhook call with the answer already given, without acting twice.

Dialogflow may call a webhook again for the same turn (its retry behaviour is undocumented),
and a caller's "yes, book it" must not book twice. For tags registered with
``side_effects=True`` the router keys each call on ``detectIntentResponseId`` + tag: a repeat
with an identical body within ``ttl`` seconds gets the stored answer, and a repeat that arrives
while the first is still running waits for it instead of calling the backend in parallel.

Backends get an ``Idempotency-Key`` derived from the same pair too, so the guarantee also holds
across instances, where this in-process memory cannot help.

    >>> replay = ReplayCache(ttl=600)
    >>> replay.run(("turn-1", "book"), b"digest", lambda: b"booked")
    (b'booked', False)
    >>> replay.run(("turn-1", "book"), b"digest", lambda: b"booked again")
    (b'booked', True)
"""

import threading

from fulfillment import deadline


class ReplayCache:
    def __init__(self, ttl, maxsize=4096):
        from cachetools import TTLCache  # imported here: only side-effecting tags need it

        self._done = TTLCache(maxsize=maxsize, ttl=ttl)
        self._running = {}
        self._lock = threading.Lock()

    def run(self, key, digest, compute, keep=lambda result: True):
        """``(result, replayed)``: the stored result for ``key`` if its digest matches, else
        ``compute()``'s, stored when ``keep(result)`` is true."""
        with self._lock:
            done = self._done.get(key)
            if done is not None and done[0] == digest:
                return done[1], True
            running = self._running.get(key)
            owner = running is None
            if owner:
                running = self._running[key] = threading.Lock()
                running.acquire()
        if not owner:
            # Same turn, same tag, already in progress: wait for it (within our own budget).
            if running.acquire(timeout=max(deadline.remaining(), 0)):
                running.release()
            with self._lock:
                done = self._done.get(key)
            if done is not None and done[0] == digest:
                return done[1], True
            # The first call failed in a way worth retrying, or is still running past our
            # budget: go ahead. The backend's idempotency key still prevents a second effect.
            return compute(), False
        try:
            result = compute()
            if keep(result):
                with self._lock:
                    self._done[key] = (digest, result)
            return result, False
        finally:
            with self._lock:
                del self._running[key]
            running.release()
