"""The demo store over real HTTP on loopback, as the webhook's backend client reaches it: one
store shared by the read-only tests, or one of its own for a test that changes data or counts
connections."""

import pytest

import demo_store
from tests.store.kit import Clock, noon_today


# These two are package-scoped: one clock and one store for every file here, as when these
# tests were one module.
@pytest.fixture(scope="package")
def clock():
    return Clock(noon_today())


@pytest.fixture(scope="package")
def store(clock):
    """One store for the read-only tests."""
    running = demo_store.start(clock=clock)
    yield running
    running.stop()


@pytest.fixture
def fresh_clock():
    return Clock(noon_today())


@pytest.fixture
def fresh_store(fresh_clock):
    """A store of its own, for tests that change data or count connections."""
    running = demo_store.start(clock=fresh_clock)
    yield running
    running.stop()
