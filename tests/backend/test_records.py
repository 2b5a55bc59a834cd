"""What each call records and logs (never ids or query values), which paths are refused,
who a failed check names, and what importing the client costs."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from fulfillment.backend import backend, backend_calls, field
from fulfillment.errors import BadBackendData, NotFound, Unavailable
from tests.backend.kit import STORE, store


def test_failure_logs_name_the_path_without_its_ids(mocked, caplog, no_backoff):
    mocked.get(f"{STORE}/orders/ORD-7777123", status=404)
    mocked.get(f"{STORE}/accounts/ACC-87654329/balance", status=503)

    with caplog.at_level(logging.DEBUG, logger="fulfillment.backend"):
        with pytest.raises(NotFound) as not_found:
            store().get_json("/orders/ORD-7777123")
        with pytest.raises(Unavailable) as unavailable:
            store().get_json("/accounts/ACC-87654329/balance")

    assert "/orders/:id" in not_found.value.detail and "/accounts/:id/balance" in unavailable.value.detail
    assert caplog.records and "retrying" in caplog.text
    for text in (caplog.text, not_found.value.detail, unavailable.value.detail):
        assert "7777123" not in text and "87654329" not in text


def test_calls_are_recorded_without_query_values(mocked):
    mocked.get(f"{STORE}/weather/current", json={"temp_c": 4})
    mocked.get(f"{STORE}/orders/ORD-404", status=404)

    with backend_calls() as calls:
        store().get_json("/weather/current", params={"city": "Tromsø"})
        with pytest.raises(NotFound):
            store().get_json("/orders/ORD-404")

    ok, missing = calls
    assert set(ok) == {"backend", "method", "path", "status", "outcome", "ms", "attempts", "cached"}
    assert (ok["backend"], ok["method"], ok["path"], ok["status"], ok["outcome"]) == (
        "store",
        "GET",
        "/weather/current",
        200,
        "ok",
    )
    assert ok["ms"] >= 0 and ok["attempts"] == 1 and ok["cached"] is False
    assert (missing["status"], missing["outcome"]) == (404, "not-found")
    assert "Troms" not in repr(calls)


def test_calls_outside_a_collection_are_not_recorded(mocked):
    mocked.get(f"{STORE}/a", json={})
    store().get_json("/a")  # no backend_calls(): nothing to append to, nothing fails


@pytest.mark.parametrize(
    "path",
    [
        "orders/1",
        "//evil.test/x",
        "/orders/../admin",
        "/orders/1?x=1",
        "/a#b",
        # requests' requote_uri decodes %2e, so these went out as /orders/../admin
        "/orders/%2e%2e/admin",
        "/orders/.%2E/admin",
        "/orders/%2E%2E",
    ],
)
def test_paths_that_could_escape_are_refused(path):
    with pytest.raises(ValueError):
        store().get_json(path)


def test_a_refused_path_is_not_quoted_with_the_callers_data():
    # A handler that puts what the caller said into a path unchecked gets this error, and its
    # traceback is logged.
    with pytest.raises(ValueError) as caught:
        store().get_json("/members/Jane Doe?x")
    assert "Jane" not in str(caught.value) and "/members/:id" in str(caught.value)


def test_backend_names_map_to_environment_variables():
    with pytest.raises(ValueError):
        backend("Store")
    assert backend("loyalty-points").spoken_name == "our loyalty points system"


def test_importing_the_module_does_not_import_requests():
    code = (
        "import sys, fulfillment.backend as b; b.backend('store');"
        "eager = {'requests', 'urllib3', 'google.auth', 'cachetools'} & set(sys.modules);"
        "assert not eager, eager"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_requests_is_loaded_without_its_unused_encoding_detector():
    """fulfillment._requests keeps charset_normalizer (2.9 MiB) out of a fresh process, quietly,
    and only while requests is first imported."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    script = (
        "import sys, warnings\n"
        "warnings.simplefilter('error')\n"
        "from fulfillment.backend import backend\n"
        "backend('store').client.session()\n"
        "import requests.compat\n"
        "assert 'charset_normalizer' not in sys.modules and 'chardet' not in sys.modules\n"
        "assert requests.compat.chardet is None\n"
        "import charset_normalizer\n"  # a handler may still use it
        "print('ok')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "AUTH_MODES": "none"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_a_failed_check_names_this_calls_backend_never_an_earlier_calls(mocked):
    # functions-framework serves many calls on one thread: who answered the previous call must
    # not be named for data this call got elsewhere.
    mocked.get(f"{STORE}/orders/ORD-1", json={"id": "ORD-1"})
    with backend_calls():
        store().get_json("/orders/ORD-1")

    with backend_calls(), pytest.raises(BadBackendData) as caught:
        field({"id": "x"}, "status", str)
    assert caught.value.system == "our system"
