"""The replay cache under real threads: one action per turn, whatever the first call came to."""

import threading
import time

import pytest

from fulfillment.deadline import Deadline
from fulfillment.replay import ReplayCache, StillRunning

KEY = ("turn-1", "book", b"digest")


def _at_once(cache, compute, repeats=6):
    """The first call, then ``repeats`` that arrive while it runs; what each came to."""
    results = [None] * (repeats + 1)

    def call(i):
        if i:
            time.sleep(0.05)  # the first is under way
        with Deadline(2.0):
            try:
                results[i] = cache.run(KEY, compute)
            except BaseException as err:  # what the call came to, whatever it was
                results[i] = err

    threads = [threading.Thread(target=call, args=(i,)) for i in range(repeats + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_repeats_of_a_first_call_that_raised_do_not_act():
    acted = []

    def compute():
        acted.append(1)
        time.sleep(0.2)  # the write has gone out...
        raise RuntimeError("...and then a bug")

    cache = ReplayCache(ttl=600)
    first, *repeats = _at_once(cache, compute)

    assert isinstance(first, RuntimeError)
    assert all(isinstance(repeat, StillRunning) for repeat in repeats)  # "cannot confirm"
    with Deadline(2.0), pytest.raises(StillRunning):
        cache.run(KEY, compute)  # nor does a later one
    assert len(acted) == 1


@pytest.mark.parametrize("ttl", [0, 600])
def test_repeats_waiting_get_the_first_answer_even_if_the_cache_let_it_go(ttl):
    acted = []

    def compute():
        acted.append(1)
        time.sleep(0.2)
        return b"booked"

    results = _at_once(ReplayCache(ttl=ttl), compute)

    assert results == [(b"booked", False)] + [(b"booked", True)] * 6
    assert len(acted) == 1
