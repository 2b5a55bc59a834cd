"""The router driven without HTTP, dict in and dict out: registry, error policy, replay."""

import json
import threading
import time

import pytest

from fulfillment import NotFound, Rejected, Response, Timeout, Unavailable
from fulfillment.app import HANDLER_ERROR_TEXT, UNKNOWN_TAG_TEXT, WebhookApp
from fulfillment.config import ConfigurationError, Settings
from fulfillment.errors import BadRequest
from tests.conftest import assert_valid_response, cx_request, outcome_of, texts_of


@pytest.fixture
def webhook():
    return WebhookApp(settings=Settings.from_env({"AUTH_MODES": "none"}))


def test_a_registered_tag_answers_and_others_fall_back(webhook):
    @webhook.tag("greet")
    def greet(request):
        return Response(f"Hello {request.param('name')}.")

    out = assert_valid_response(webhook.resolve(cx_request("greet", {"NAME": "Ada"})))
    assert texts_of(out) == ["Hello Ada."] and outcome_of(out) == "ok"

    out = assert_valid_response(webhook.resolve(cx_request("nobody-serves-this")))
    assert texts_of(out) == [UNKNOWN_TAG_TEXT] and outcome_of(out) == "unknown-tag"
    assert webhook.tags == ("greet",)


def test_duplicate_and_malformed_tags_fail_at_registration(webhook):
    webhook.tag("once")(lambda request: None)
    with pytest.raises(ValueError, match="already served"):
        webhook.tag("once")(lambda request: None)
    for bad in ("", " padded ", None, 3):
        with pytest.raises(ValueError):
            webhook.tag(bad)


@pytest.mark.parametrize(
    ("error", "outcome", "words"),
    [
        (NotFound("x", system="our order system"), "not-found", "couldn't find"),
        (Unavailable("down", system="our order system"), "unavailable", "our order system isn't answering"),
        (Timeout("slow", system="our order system"), "timeout", "our order system is taking too long"),
    ],
)
def test_backend_errors_a_handler_lets_through_become_true_sentences(webhook, error, outcome, words):
    @webhook.tag("t")
    def failing(request):
        raise error

    out = assert_valid_response(webhook.resolve(cx_request("t")))
    assert outcome_of(out) == outcome and words in texts_of(out)[0]
    assert "down" not in texts_of(out)[0] and "slow" not in texts_of(out)[0]  # never the backend's words


def test_a_handler_bug_answers_200_with_an_apology_and_logs_the_traceback(webhook, caplog):
    @webhook.tag("buggy")
    def buggy(request):
        return {"not": "a Response"}["missing"]

    out = assert_valid_response(webhook.resolve(cx_request("buggy")))
    assert texts_of(out) == [HANDLER_ERROR_TEXT] and outcome_of(out) == "error"
    assert any(r.exc_info for r in caplog.records)


def test_a_handler_returning_the_wrong_type_is_a_handler_bug(webhook):
    webhook.tag("wrong")(lambda request: {"fulfillmentResponse": {}})
    webhook.tag("none")(lambda request: None)
    assert outcome_of(webhook.resolve(cx_request("wrong"))) == "error"
    assert assert_valid_response(webhook.resolve(cx_request("none"))) == {
        "sessionInfo": {"parameters": {"webhook_outcome": "ok"}}
    }


def test_invalid_requests_raise_bad_request(webhook):
    for body in ([], "x", {"fulfillmentInfo": {"tag": 5}}, {"sessionInfo": {"parameters": []}}):
        with pytest.raises(BadRequest):
            webhook.resolve(body)


def test_side_effects_happen_once_per_turn_and_tag(webhook):
    calls = []

    @webhook.tag("book", side_effects=True)
    def book(request):
        calls.append(1)
        time.sleep(0.05)
        return Response(f"Booked #{len(calls)}.")

    body = cx_request("book", {"service": "haircut"}, response_id="turn-1")
    results = []
    threads = [threading.Thread(target=lambda: results.append(webhook.resolve(body))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert all(texts_of(r) == ["Booked #1."] for r in results)

    # Another turn is another booking; a changed body for the same turn is not "identical".
    webhook.resolve(cx_request("book", {"service": "haircut"}, response_id="turn-2"))
    webhook.resolve(cx_request("book", {"service": "massage"}, response_id="turn-1"))
    assert len(calls) == 3


def test_a_tag_that_fails_removes_what_it_answers_when_it_succeeds(webhook):
    @webhook.tag("lookup", answers=("status", "eta"))
    def lookup(request):
        if request.param("order") == "crash":
            raise RuntimeError("bug")
        if request.param("order") == "missing":
            return Response("Not found.").set(eta="unknown").with_outcome("not-found")
        return Response("Shipped.").set(status="shipped", eta="soon")

    def params(order):
        return webhook.resolve(cx_request("lookup", {"order": order}))["sessionInfo"]["parameters"]

    assert params("fine") == {"status": "shipped", "eta": "soon", "webhook_outcome": "ok"}
    assert params("missing") == {"status": None, "eta": "unknown", "webhook_outcome": "not-found"}
    assert params("crash") == {"status": None, "eta": None, "webhook_outcome": "error"}


def test_one_response_returned_by_two_tags_carries_no_clearing_from_one_to_the_other(webhook):
    # A handler may keep a ready-made Response; the router must not edit it.
    ask_again = Response("Could you say that again?").with_outcome("invalid-input")
    webhook.tag("balance", answers=("balance",))(lambda request: ask_again)
    webhook.tag("status", answers=("order_status",))(lambda request: ask_again)

    webhook.resolve(cx_request("balance"))
    params = webhook.resolve(cx_request("status"))["sessionInfo"]["parameters"]
    assert params == {"order_status": None, "webhook_outcome": "invalid-input"}


def test_answers_given_as_a_bare_string_fail_at_registration(webhook):
    # ("points") is the string "points": its letters would be cleared, never "points".
    with pytest.raises(TypeError, match=r"\('points',\)"):
        webhook.tag("points", answers=("points"))


def test_two_requests_under_one_turn_id_are_two_calls_each_replayed(webhook):
    calls = []

    @webhook.tag("book", side_effects=True)
    def book(request):
        calls.append(request.param("service"))
        return Response(f"Booked a {request.param('service')}.")

    first = cx_request("book", {"service": "haircut"}, response_id="turn-5")
    second = cx_request("book", {"service": "massage"}, response_id="turn-5")
    answers = [texts_of(webhook.resolve(body)) for body in (first, second, first, second)]

    assert answers == [["Booked a haircut."], ["Booked a massage."]] * 2
    assert calls == ["haircut", "massage"]


def test_a_remembered_turn_costs_the_same_however_long_its_id(webhook):
    # 4096 turns are remembered: a turn id of ~1 MiB each would be ~4 GiB.
    webhook.tag("book", side_effects=True)(lambda request: Response("Booked."))
    body = cx_request("book", response_id="t" * 500_000)
    first = webhook.resolve(body)
    assert webhook.resolve(body) == first  # still replayed
    (key,) = webhook._replay._done.keys()
    assert sum(len(part) for part in key) < 100


def test_a_reply_that_is_not_json_is_the_error_answer_not_a_500(webhook):
    import datetime

    webhook.tag("when", answers=("when",))(
        lambda request: Response("Soon.").set(when=datetime.date(2030, 1, 1))
    )

    answer = webhook.resolve(cx_request("when"))

    assert texts_of(answer) == [HANDLER_ERROR_TEXT]
    assert answer["sessionInfo"]["parameters"] == {"when": None, "webhook_outcome": "error"}


def test_a_failed_turn_is_answered_from_memory_too(webhook):
    # After a timeout or a reset the backend may have acted: only the turn's answer repeats.
    attempts = []

    @webhook.tag("pay", side_effects=True)
    def pay(request):
        attempts.append(1)
        raise Unavailable("down", system="our payment system")

    body = cx_request("pay", response_id="turn-9")
    first = webhook.resolve(body)
    assert outcome_of(first) == "unavailable"
    assert webhook.resolve(body) == first
    assert len(attempts) == 1


def test_the_same_request_spelled_differently_is_the_same_turn(webhook):
    calls = []
    webhook.tag("book", side_effects=True)(lambda request: calls.append(1) or Response("Booked."))
    body = cx_request("book", {"service": "haircut", "time": "10:00"}, response_id="turn-3")
    reordered = dict(reversed(list(body.items())))
    session = dict(reversed(list(body["sessionInfo"].items())))
    session["parameters"] = dict(reversed(list(body["sessionInfo"]["parameters"].items())))
    reordered["sessionInfo"] = session
    assert json.dumps(reordered) != json.dumps(body)

    assert webhook.resolve(body) == webhook.resolve(reordered)
    assert len(calls) == 1


def test_a_repeat_that_outlasts_its_budget_waiting_does_not_act_beside_the_first():
    webhook = WebhookApp(
        settings=Settings.from_env(
            {"AUTH_MODES": "none", "WEBHOOK_TIMEOUT_S": "1", "WEBHOOK_SAFETY_MARGIN_S": "0.7"}
        )
    )
    calls = []

    @webhook.tag("book", side_effects=True, answers=("confirmation_id",))
    def book(request):
        calls.append(1)
        time.sleep(0.8)  # longer than the repeat's 0.3 s budget
        return Response("Booked.").set(confirmation_id="APT-1")

    body = cx_request("book", response_id="turn-4")
    first = threading.Thread(target=webhook.resolve, args=(body,))
    first.start()
    time.sleep(0.1)
    repeat = webhook.resolve(body)
    first.join()

    assert len(calls) == 1
    assert outcome_of(repeat) == "timeout"
    # Not "give me a few seconds": asking again is a new turn, and could book twice.
    assert texts_of(repeat) == [
        "I'm sorry, I couldn't get a confirmation from our system, so I can't tell whether that "
        "went through. I won't try again, so that it isn't done twice: a member of our team can "
        "check it for you."
    ]
    assert repeat["sessionInfo"]["parameters"]["confirmation_id"] is None  # no earlier booking's
    assert texts_of(webhook.resolve(body)) == ["Booked."]  # and once it is done, its answer


def test_handlers_run_under_the_webhook_deadline(webhook):
    from fulfillment import deadline

    seen = []
    webhook.tag("time")(lambda request: seen.append(deadline.remaining()))
    webhook.resolve(cx_request("time"))
    assert 0 < seen[0] <= webhook.settings.budget_s


def test_the_auth_check_spends_the_same_budget():
    # Fetching Google's keys on a cold instance takes time Dialogflow is already counting: the
    # handler must get what is left, not a fresh budget.
    from fulfillment import deadline
    from tests.test_logs import http_request

    class SlowAuthenticator:
        open = False

        def check(self, headers):
            time.sleep(0.3)
            return "slow"

    settings = Settings.from_env({"AUTH_MODES": "none", "WEBHOOK_TIMEOUT_S": "1.5"})
    webhook = WebhookApp(settings=settings, authenticator=SlowAuthenticator())
    seen = []
    webhook.tag("time")(lambda request: seen.append(deadline.remaining()))
    _, status, _ = webhook.handle_http(http_request(cx_request("time"), {}))
    assert status == 200
    assert 0 < seen[0] <= settings.budget_s - 0.3


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_a_budget_that_is_no_number_refuses_to_start(value):
    # "nan" parses as a float, and a NaN budget would bound nothing: a hung backend then
    # held the answer for 12 s.
    with pytest.raises(ValueError, match="WEBHOOK_TIMEOUT_S must be a finite number"):
        Settings.from_env({"AUTH_MODES": "none", "WEBHOOK_TIMEOUT_S": value})


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"WEBHOOK_TIMEOUT_S": "31"}, "WEBHOOK_TIMEOUT_S must be between 0 and 30"),
        (
            {"WEBHOOK_TIMEOUT_S": "0"},
            "WEBHOOK_SAFETY_MARGIN_S \\(0.75\\) must be less than WEBHOOK_TIMEOUT_S \\(0\\)",
        ),
        ({"WEBHOOK_TIMEOUT_S": "2", "WEBHOOK_SAFETY_MARGIN_S": "2"}, "must be less than WEBHOOK_TIMEOUT_S"),
        ({"MAX_REQUEST_BYTES": "0"}, "MAX_REQUEST_BYTES must be at least 1024"),
        ({"MAX_REQUEST_BYTES": "1"}, "MAX_REQUEST_BYTES must be at least 1024"),
        ({"MAX_REQUEST_BYTES": "-5"}, "MAX_REQUEST_BYTES must be at least 1024"),
        # Typos must not pass for "off" or "false": sample data would answer callers.
        ({"DEMO_STORE": "of"}, "DEMO_STORE must be true or false \\(or on/off"),
        ({"BACKEND_TRUST_ENV": "ture"}, "BACKEND_TRUST_ENV must be true or false"),
    ],
)
def test_a_setting_that_would_fail_every_call_refuses_to_start(env, error):
    # Refused at start, the deploy fails and says why; accepted, every caller would hear the
    # fallback (no time left for backends) or get a 413 (no body fits).
    with pytest.raises(ValueError, match=error):
        Settings.from_env({"AUTH_MODES": "none", **env})


def test_every_wrong_setting_is_named_at_once():
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(
            {
                "WEBHOOK_TIMEOUT_S": "60",
                "WEBHOOK_SAFETY_MARGIN_S": "9",
                "MAX_REQUEST_BYTES": "1",
                "REPLAY_TTL_S": "x",
            }
        )
    assert raised.value.problems == [
        "WEBHOOK_TIMEOUT_S must be between 0 and 30, got '60'",
        "MAX_REQUEST_BYTES must be at least 1024, got '1'",
        "REPLAY_TTL_S must be a number, got 'x'",
    ]  # and no word on the margin: it is only compared with a timeout that could be read


def test_errors_raised_by_hand_carry_what_the_router_and_handlers_read():
    # A fork's handler or test may raise these itself; handlers read .code, the router .reason.
    assert Rejected("no").code is None
    assert BadRequest("no").reason is None


def test_settings_made_in_code_read_the_process_environment(monkeypatch):
    # On Google Cloud, an empty environment would read as "not on Google Cloud": auth off.
    monkeypatch.setenv("K_SERVICE", "cx-webhook")
    monkeypatch.setenv("AUTH_MODES", "basic")
    monkeypatch.setenv("AUTH_BASIC_USERNAME", "cx")
    monkeypatch.setenv("AUTH_BASIC_PASSWORD", "a-long-enough-password")

    app = WebhookApp(settings=Settings(webhook_timeout_s=10.0))
    assert not app.authenticator.open
    assert app.authenticator.describe() == "auth: basic"


def test_settings_at_their_bounds_are_accepted():
    settings = Settings.from_env(
        {"WEBHOOK_TIMEOUT_S": "30", "WEBHOOK_SAFETY_MARGIN_S": "29.5", "MAX_REQUEST_BYTES": "1024"}
    )
    assert settings.budget_s == 0.5
    assert settings.max_request_bytes == 1024
