"""Fixtures of the backend client's tests: a clean environment for each (autouse),
``responses`` (``mocked``), retries without backoff, a stand-in demo store, and
``FaultServer``, a real HTTP server on loopback (``server``, ``real``).

Most tests mock requests with ``responses`` (status codes and bodies are all that matter
there); ``test_real_server.py`` runs against ``FaultServer``, because hangs, trickles and
resets only happen on real sockets."""

import sys
import types

import pytest
import responses

from fulfillment import backend as backend_module
from fulfillment.backend import reset
from tests.backend.kit import STORE, TRANSPORT
from tests.fault_server import FaultServer


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Each test starts with no backend configured and a fresh process-wide client."""
    import os

    for name in list(os.environ):
        if name.startswith("BACKEND_") or name == "DEMO_STORE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("BACKEND_STORE_URL", STORE)
    reset()
    yield
    reset()


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False, target=TRANSPORT) as mock:
        yield mock


@pytest.fixture
def no_backoff(monkeypatch):
    """Retries without their sleep, for tests about *whether* a call is retried."""
    monkeypatch.setattr(backend_module, "BACKOFF_BASE_S", 0.0)


@pytest.fixture
def demo_store(monkeypatch):
    """A stand-in ``demo_store`` module: the real one is a colleague's."""
    for name in ("BACKEND_STORE_URL",):
        monkeypatch.delenv(name)
    keys = {"booking": ("bearer", "bt-demo"), "weather": ("api-key", "wk-demo")}
    running = types.SimpleNamespace(
        url="http://127.0.0.1:8931", credentials=lambda name: keys.get(name, ("none", ""))
    )
    module = types.ModuleType("demo_store")
    module.shared = lambda: running
    monkeypatch.setitem(sys.modules, "demo_store", module)
    return running


# One server for every file here, as when these tests were one module.
@pytest.fixture(scope="package")
def server():
    with FaultServer() as running:
        yield running


@pytest.fixture
def real(server, monkeypatch):
    monkeypatch.setenv("BACKEND_STORE_URL", server.url)
    reset()
    return server
