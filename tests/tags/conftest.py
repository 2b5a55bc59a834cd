"""Every test here drives a tag through ``handlers.app.resolve`` (dict in, dict out), each
backend at a fake https URL answered by ``responses``. ``tests/test_handlers_demo.py`` runs
the same tags against the demo store over real HTTP."""

import os

import pytest
import responses

from fulfillment import backend as backend_module
from fulfillment.backend import reset
from tests.tags.kit import BANK, BOOKING, BOOKING_TOKEN, STORE, TRANSPORT, WEATHER, WEATHER_KEY


@pytest.fixture(autouse=True)
def backends(monkeypatch):
    """Every backend at a fake https URL, answered by ``responses``; retries without backoff."""
    for name in list(os.environ):
        if name.startswith("BACKEND_") or name in ("DEMO_STORE", "HANDOFF_PHONE_NUMBER"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEMO_STORE", "off")  # a backend left unset fails, never reaches the demo store
    monkeypatch.setenv("BACKEND_STORE_URL", STORE)
    monkeypatch.setenv("BACKEND_BANK_URL", BANK)
    monkeypatch.setenv("BACKEND_BOOKING_URL", BOOKING)
    monkeypatch.setenv("BACKEND_BOOKING_AUTH", "bearer")
    monkeypatch.setenv("BACKEND_BOOKING_KEY", BOOKING_TOKEN)
    monkeypatch.setenv("BACKEND_WEATHER_URL", WEATHER)
    monkeypatch.setenv("BACKEND_WEATHER_AUTH", "api-key")
    monkeypatch.setenv("BACKEND_WEATHER_KEY", WEATHER_KEY)
    monkeypatch.setattr(backend_module, "BACKOFF_BASE_S", 0.0)
    reset()
    with responses.RequestsMock(assert_all_requests_are_fired=False, target=TRANSPORT) as mock:
        yield mock
    reset()


# --- the agent's calendar ---------------------------------------------------------------------------


@pytest.fixture
def agent_time_zone(monkeypatch):
    from fulfillment import clock

    def set_zone(name):
        monkeypatch.setenv("AGENT_TIME_ZONE", name)
        clock.reset()

    yield set_zone
    monkeypatch.delenv("AGENT_TIME_ZONE", raising=False)
    clock.reset()
