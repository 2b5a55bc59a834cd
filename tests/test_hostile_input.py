"""A request built to hurt: memory held per replayed turn, the size of its log line, CPU spent
on echoed structures, over-long utterances and refused bodies."""

import json
import logging
import sys

import pytest

from fulfillment import logs
from fulfillment.app import WebhookApp
from fulfillment.config import Settings
from fulfillment.replay import ReplayCache
from tests.conftest import cx_request


def http_request(body):
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    return Request(
        EnvironBuilder(
            method="POST", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        ).get_environ()
    )


def test_a_replayed_turn_is_remembered_by_a_digest_not_by_its_turn_id(app, monkeypatch):
    # Each key used to hold the turn id itself: 200 bodies with a 1 MiB detectIntentResponseId
    # kept ~250 MiB for REPLAY_TTL_S (up to 4096 of them: an OOM on a 512 MiB instance).
    replay = ReplayCache(ttl=600)
    monkeypatch.setattr(app, "_replay", replay)
    turn_id = "t" * 200_000

    app.resolve(cx_request("process-return", {}, response_id=turn_id))  # invalid input: no backend call

    (key,) = replay._done.keys()
    held = sum(sys.getsizeof(part) for part in (key if isinstance(key, tuple) else (key,)))
    assert held < 1024


def test_a_call_that_names_itself_at_length_still_logs_one_line_cloud_logging_accepts(captured):
    # Cloud Logging refuses an entry over 256 KB: the call would vanish from the logs. This one
    # made a line of ~250 KB (its identifiers several times over, and every parameter name).
    webhook = WebhookApp(settings=Settings.from_env({"AUTH_MODES": "none"}))
    body = cx_request("t" * 50_000, {f"p{i}": i for i in range(5_000)}, response_id="r" * 50_000)
    body["sessionInfo"]["session"] = "projects/p/locations/global/agents/a/sessions/" + "s" * 50_000
    body["languageCode"] = "l" * 50_000

    _, status, _ = webhook.handle_http(http_request(body))

    (summary,) = [line for line in captured() if line.get("call")]
    assert status == 200 and summary["call"]["outcome"] == "unknown-tag"
    assert len(json.dumps(summary)) <= logs.MAX_LINE_CHARS and summary["truncated"] is True
    # What finds the call is still there, cut short.
    assert summary["call"]["tag"].startswith("t" * 100) and summary[logs.LABELS]["session_id"].startswith(
        "s" * 100
    )
    assert summary["call"]["session_params"]["…"] == "4950 more"


def test_a_line_of_the_usual_size_is_not_touched(captured):
    logging.getLogger("fulfillment.test").info("hello %s", "x" * 90_000)

    (line,) = captured()
    assert line["message"] == "hello " + "x" * 90_000 and "truncated" not in line


def test_an_oversized_traceback_keeps_its_end_where_the_exception_is(captured):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("fulfillment.test").exception("failed with %s", "y" * 200_000)

    (line,) = captured()
    assert line["truncated"] is True and len(line["message"]) == 1001
    assert line["stack_trace"].rstrip().endswith("ValueError: (message withheld: it may quote caller data)")


def test_a_handoff_names_the_topics_of_the_call_but_echoes_no_structure(app):
    nested = [[[[0]]]] * 1000
    answer = app.resolve(cx_request("transfer-to-agent", {"order_id": nested, "account_id": "ACC-12345678"}))

    handoff = answer["fulfillmentResponse"]["messages"][1]["liveAgentHandoff"]
    assert handoff["metadata"] == {"reason": "caller asked for a person", "account_id": "ACC-12345678"}


def test_an_utterance_longer_than_anyone_says_is_not_normalised():
    from handlers._ids import MAX_HEARD_CHARS, heard, spoken_email

    assert heard("x" * MAX_HEARD_CHARS) == "x" * MAX_HEARD_CHARS
    assert heard("x" * (MAX_HEARD_CHARS + 1)) is None
    # ~90 ms of regex work per MiB before; now refused before the first pass.
    assert spoken_email("ada " * 250_000 + "at example dot com") is None


@pytest.mark.parametrize(
    "refused",
    [
        {"sentimentAnalysisResult": {"score": "high"}},  # a wrong type
        {"payload": {"note": "\ud800"}},  # a lone surrogate, found before the schema walk
    ],
    ids=["wrong-type", "lone-surrogate"],
)
def test_a_body_refused_by_the_schema_is_decoded_once(captured, monkeypatch, refused):
    import fulfillment.app as app_module

    webhook = WebhookApp(settings=Settings.from_env({"AUTH_MODES": "none"}))
    body = cx_request("lookup-order", response_id="turn-7")
    body.update(refused)
    request = http_request(body)
    with monkeypatch.context() as patched:
        patched.setattr(app_module.json, "loads", lambda *a, **k: pytest.fail("decoded a second time"))
        _, status, _ = webhook.handle_http(request)

    (summary,) = [line for line in captured() if line.get("call")]
    assert status == 400 and summary["call"]["tag"] == "lookup-order"
    assert summary["call"]["detect_intent_response_id"] == "turn-7"
