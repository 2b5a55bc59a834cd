"""A backend without a URL reaches the embedded demo store, with the demo store's
credentials, or is ``Unavailable`` (mocked with ``responses``, the demo store a stand-in)."""

import logging
import sys
import types

import pytest

from fulfillment.backend import backend
from fulfillment.errors import NotFound, Unavailable
from tests.backend.kit import store


def test_without_url_backends_use_the_demo_store_with_its_credentials(mocked, demo_store, caplog):
    mocked.get("http://127.0.0.1:8931/orders/ORD-1", json={"id": "ORD-1"})
    mocked.get("http://127.0.0.1:8931/slots", json=[])
    mocked.get("http://127.0.0.1:8931/weather/current", json={})

    with caplog.at_level(logging.WARNING, logger="fulfillment.backend"):
        assert store().get_json("/orders/ORD-1") == {"id": "ORD-1"}
        store().get_json("/orders/ORD-1")
        backend("booking").get_json("/slots")
        backend("weather").get_json("/weather/current")

    order, _, slots, weather = (c.request.headers for c in mocked.calls)
    assert "Authorization" not in order and "X-API-Key" not in order
    assert slots["Authorization"] == "Bearer bt-demo"
    assert weather["X-API-Key"] == "wk-demo"
    warnings = [r.getMessage() for r in caplog.records]
    assert (
        warnings.count(
            "backend 'store' is the embedded demo store at http://127.0.0.1:8931 (set BACKEND_STORE_URL for a real one)"
        )
        == 1
    )  # once per backend, not per call
    assert len(warnings) == 3
    assert "bt-demo" not in caplog.text and "wk-demo" not in caplog.text


def test_a_demo_store_endpoint_not_written_yet_is_an_error_not_a_missing_record(mocked, demo_store, caplog):
    # A fork's new tag before its demo endpoint exists: "I couldn't find member M-1234" would
    # hide the missing endpoint; a record the store lacks is still NotFound.
    body = {"error": "no endpoint /members/M-1", "code": "no-such-endpoint"}
    mocked.get("http://127.0.0.1:8931/members/M-1", status=404, json=body)
    mocked.get("http://127.0.0.1:8931/orders/ORD-9", status=404, json={"error": "order not found"})

    with caplog.at_level(logging.ERROR, logger="fulfillment.backend"), pytest.raises(Unavailable):
        store().get_json("/members/M-1")
    with pytest.raises(NotFound):
        store().get_json("/orders/ORD-9")

    assert "the demo store has no endpoint GET /members/:id: add it to demo_store/api.py" in caplog.text


def test_demo_store_off_and_no_url_is_unavailable(mocked, demo_store, monkeypatch, caplog):
    monkeypatch.setenv("DEMO_STORE", "off")

    with caplog.at_level(logging.ERROR, logger="fulfillment.backend"):
        for _ in range(3):
            with pytest.raises(Unavailable) as caught:
                store().get_json("/orders/ORD-1")

    assert caught.value.system == "our order system"
    assert len(mocked.calls) == 0
    assert len(caplog.records) == 1 and "BACKEND_STORE_URL" in caplog.records[0].getMessage()


def test_demo_store_that_cannot_start_is_unavailable(mocked, monkeypatch):
    monkeypatch.delenv("BACKEND_STORE_URL")
    broken = types.ModuleType("demo_store")
    broken.shared = lambda: (_ for _ in ()).throw(OSError("port in use"))
    monkeypatch.setitem(sys.modules, "demo_store", broken)

    with pytest.raises(Unavailable):
        store().get_json("/orders/ORD-1")
