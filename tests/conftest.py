"""Shared test fixtures: the strict WebhookResponse check, the app, an HTTP client."""

import io
import json
import logging
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Google's own example bodies of the contract (see its README.md), kept in the repository.
CONTRACT_EXAMPLES = ROOT / "tests" / "fixtures" / "contract"
EXAMPLES = ROOT / "examples"

MAX_RESPONSE_BYTES = 64 * 1024

# The tests run with the embedded demo store and no authentication unless a test says otherwise.
os.environ.pop("K_SERVICE", None)
os.environ.setdefault("AUTH_MODES", "none")
os.environ.setdefault("LOG_FORMAT", "json")
# Each log line at once: a test reads what a call logged as soon as the call returns
# (the gathering of lines under load has tests of its own, in test_logs.py).
os.environ.setdefault("LOG_FLUSH_MS", "0")
for name in list(os.environ):
    if name.startswith("BACKEND_") and name.endswith("_URL"):
        del os.environ[name]


def pytest_addoption(parser):
    parser.addoption(
        "--long",
        action="store_true",
        help="also run @pytest.mark.slow tests, and ten times more property-based examples",
    )


def pytest_collection_modifyitems(config, items):
    # Slow tests stay out of CI's default run; they are skipped, not deselected, so the count of
    # what did not run shows in every report.
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="long-running: run with --long")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def long_run(pytestconfig):
    """True under ``--long`` or ``HYPOTHESIS_LONG=1``: property tests run ten times more examples."""
    return pytestconfig.getoption("--long") or os.environ.get("HYPOTHESIS_LONG") == "1"


def assert_valid_response(payload):
    """``payload`` (bytes, str or dict) is a WebhookResponse the official proto accepts strictly.

    Returns the parsed dict.
    """
    from google.cloud.dialogflowcx_v3.types import WebhookResponse

    if isinstance(payload, dict):
        text = json.dumps(payload)
    else:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    assert len(text.encode("utf-8")) <= MAX_RESPONSE_BYTES, "response over 64 KiB"
    WebhookResponse.from_json(text, ignore_unknown_fields=False)
    return json.loads(text)


def texts_of(response):
    """Every text variant the caller may hear, in order."""
    messages = (response.get("fulfillmentResponse") or {}).get("messages") or []
    return [variant for m in messages if "text" in m for variant in m["text"]["text"]]


def outcome_of(response):
    return response["sessionInfo"]["parameters"]["webhook_outcome"]


def cx_request(tag, params=None, **extra):
    """A realistic WebhookRequest for ``tag`` with session ``params``."""
    body = {
        "detectIntentResponseId": extra.pop("response_id", "c0ffee00-0000-4000-8000-000000000001"),
        "fulfillmentInfo": {"tag": tag},
        "pageInfo": {
            "currentPage": "projects/p/locations/global/agents/a/flows/00000000-0000-0000-0000-000000000000/pages/START_PAGE",
            "displayName": "Start Page",
        },
        "sessionInfo": {
            "session": "projects/p/locations/global/agents/a/sessions/test-session",
            "parameters": dict(params or {}),
        },
        "languageCode": "en",
        "text": "hello",
    }
    body.update(extra)
    return body


@pytest.fixture(scope="session")
def app():
    from handlers import app

    return app


@pytest.fixture(scope="session")
def client():
    """An HTTP client for ``main.webhook`` served by functions-framework (in-process)."""
    import functions_framework

    flask_app = functions_framework.create_app(target="webhook", source=str(ROOT / "main.py"))
    return flask_app.test_client()


def post(client, body, **kwargs):
    """POST a JSON body (dict, str or bytes) and return the werkzeug response."""
    headers = kwargs.pop("headers", {"Content-Type": "application/json"})
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/", data=data, headers=headers, **kwargs)


@pytest.fixture
def captured():
    """What the JSON formatter makes of every record logged meanwhile, one dict per line."""
    from fulfillment import logs

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)
