"""The response builder: every part a webhook may set, each checked against the proto."""

import json

import pytest

from fulfillment import Response
from fulfillment import richcontent as rc
from fulfillment.request import WebhookRequest
from fulfillment.response import fit
from tests.conftest import assert_valid_response

FLOW = "projects/p/locations/global/agents/a/flows/f1"
REQUEST = WebhookRequest(
    {
        "pageInfo": {"currentPage": f"{FLOW}/pages/p1"},
        "sessionInfo": {"session": "projects/p/locations/global/agents/a/environments/e/sessions/s"},
    }
)


def test_every_message_kind_renders_a_valid_response():
    reply = (
        Response("Hello.", "Hi there.")
        .say("Web only.", channel="web")
        .speak("Your balance is forty two dollars.")
        .speak(ssml="<speak>Your balance is <say-as interpret-as='currency'>$42</say-as></speak>")
        .play_audio("gs://bucket/hold.wav")
        .transfer_call("+15555550123")
        .handoff(queue="billing")
        .success(reason="balance_given")
        .custom({"anything": ["goes", 1, True, None]}, channel="messenger")
        .rich(
            [rc.info("Order ORD-1", subtitle="Shipped", image="https://x/i.png", link="https://x")],
            [rc.description("Items", "Shoes", "Socks"), rc.image("https://x/i.png", alt="shoes")],
            [
                rc.button("Track", link="https://x/t", icon="chevron_right"),
                rc.button("Help", event={"name": "help"}),
            ],
            [rc.list_item("Return it", subtitle="30 days", event={"name": "return"}), rc.divider()],
            rc.accordion("Details", "More text", subtitle="sub"),
            rc.chips("Yes", {"text": "Docs", "link": "https://x"}),
        )
        .replace()
        .set(balance=42.0, nested={"a": [1, {"b": None}]})
        .remove("stale")
        .invalidate("zip")
        .payload(source="billing-webhook")
        .goto_page("END_SESSION")
        .with_outcome("ok")
    )
    out = assert_valid_response(reply.to_dict(REQUEST))
    messages = out["fulfillmentResponse"]["messages"]
    assert out["fulfillmentResponse"]["mergeBehavior"] == "REPLACE"
    assert messages[0]["text"]["text"] == ["Hello.", "Hi there."]
    assert messages[1] == {"text": {"text": ["Web only."]}, "channel": "web"}
    assert messages[3]["outputAudioText"]["ssml"].startswith("<speak>")
    assert out["sessionInfo"]["parameters"]["stale"] is None
    assert out["sessionInfo"]["parameters"]["zip"] is None
    assert out["pageInfo"]["formInfo"]["parameterInfo"] == [
        {"displayName": "zip", "required": True, "state": "INVALID"}
    ]
    assert out["targetPage"] == f"{FLOW}/pages/END_SESSION"
    assert out["payload"] == {"source": "billing-webhook"}
    rich = messages[-1]["payload"]["richContent"]
    assert rich[0][0] == {
        "type": "info",
        "title": "Order ORD-1",
        "subtitle": "Shipped",
        "image": {"src": {"rawUrl": "https://x/i.png"}},
        "actionLink": "https://x",
    }
    assert rich[5][0]["options"] == [{"text": "Yes"}, {"text": "Docs", "link": "https://x"}]


@pytest.mark.parametrize(
    ("build", "key", "expected"),
    [
        (lambda r: r.end_session(), "targetPage", f"{FLOW}/pages/END_SESSION"),
        (lambda r: r.end_flow(), "targetPage", f"{FLOW}/pages/END_FLOW"),
        (lambda r: r.goto_page("PREVIOUS_PAGE"), "targetPage", f"{FLOW}/pages/PREVIOUS_PAGE"),
        (lambda r: r.goto_page("CURRENT_PAGE"), "targetPage", f"{FLOW}/pages/CURRENT_PAGE"),
        (lambda r: r.goto_page("page-2"), "targetPage", f"{FLOW}/pages/page-2"),
        (lambda r: r.goto_page(f"{FLOW}/pages/x"), "targetPage", f"{FLOW}/pages/x"),
        (lambda r: r.goto_flow("f2"), "targetFlow", "projects/p/locations/global/agents/a/flows/f2"),
    ],
)
def test_transitions_resolve_in_the_current_flow(build, key, expected):
    out = assert_valid_response(build(Response("ok")).to_dict(REQUEST))
    assert out[key] == expected
    assert ("targetFlow" if key == "targetPage" else "targetPage") not in out


def test_a_relative_transition_without_a_current_page_is_dropped_not_invented():
    out = assert_valid_response(Response("ok").end_session().to_dict(WebhookRequest({})))
    assert "targetPage" not in out


def test_outcome_is_always_set_and_empty_response_is_valid():
    out = assert_valid_response(Response().to_dict())
    assert out == {"sessionInfo": {"parameters": {"webhook_outcome": "ok"}}}
    assert "fulfillmentResponse" not in out
    assert Response().append().to_dict()["fulfillmentResponse"] == {"messages": [], "mergeBehavior": "APPEND"}


def test_builder_refuses_what_the_proto_would_not_take():
    with pytest.raises(ValueError):
        Response().say()
    with pytest.raises(ValueError):
        Response().speak("a", ssml="<speak>b</speak>")
    with pytest.raises(TypeError):
        Response().custom(["not", "a", "dict"])


def size(data):
    return len(data)


def test_oversized_responses_are_cut_deterministically():
    big = "word " * 20000  # 100 kB of text
    body = (
        Response(big, "short variant")
        .speak("spoken")
        .rich(rc.description("x", *["line " * 50] * 100))
        .payload(blob="x" * 70000)
        .set(huge="y" * 70000, small="kept")
        .to_dict()
    )
    first, cuts = fit(body, 64 * 1024, "sorry")
    again, _ = fit(body, 64 * 1024, "sorry")
    assert first == again  # deterministic
    assert len(first) <= 64 * 1024
    out = assert_valid_response(first)
    assert cuts[0] == "payload"
    assert out["sessionInfo"]["parameters"]["small"] == "kept"
    assert out["sessionInfo"]["parameters"]["huge"] is None  # removed: no older value survives
    assert out["fulfillmentResponse"]["messages"][0]["text"]["text"][0].startswith("word word")


def test_a_cut_keeps_the_handoff_its_text_promises():
    promise = "Let me connect you with a member of our team."
    body = (
        Response(promise)
        .handoff(reason="caller asked", customer_id="C" * 70000)
        .speak("a long goodbye " * 3000)
        .end_session()
        .to_dict()
    )
    data, cuts = fit(body, 64 * 1024, "sorry")

    out = assert_valid_response(data)
    messages = out["fulfillmentResponse"]["messages"]
    assert messages[0]["text"]["text"] == [promise]
    assert messages[1]["liveAgentHandoff"]["metadata"] == {"reason": "caller asked"}
    assert cuts[0] == "message[1] (liveAgentHandoff) metadata 'customer_id'"
    assert len(data) <= 64 * 1024


def test_a_response_that_cannot_be_cut_becomes_the_apology():
    params = {f"p{i}": "v" * 200 for i in range(400)}  # many medium values: nothing large to drop
    data, cuts = fit(Response("hi").set(params).with_outcome("ok").to_dict(), 64 * 1024, "sorry")
    assert cuts[-1] == "everything"
    out = assert_valid_response(data)
    assert out["fulfillmentResponse"]["messages"][0]["text"]["text"] == ["sorry"]


def test_a_long_text_of_wide_characters_is_shortened_not_dropped():
    # ~126 KB of three-byte characters, or of escapes: shortening to fit drops more bytes than
    # characters, and the parameter updates beside the text must survive.
    for text in ("注文の状況をお知らせします。" * 3000, "\x01" * 20000):
        body = Response(text).set(order_status="shipped").to_dict()
        data, cuts = fit(body, 64 * 1024, "sorry")

        out = assert_valid_response(data)
        assert cuts == ["text shortened"] and len(data) <= 64 * 1024
        assert out["sessionInfo"]["parameters"]["order_status"] == "shipped"


def test_the_apology_keeps_the_removals_and_the_invalidated_parameter():
    request = WebhookRequest(
        {
            "pageInfo": {
                "formInfo": {"parameterInfo": [{"displayName": "date", "state": "FILLED", "value": "x"}]}
            }
        }
    )
    reply = (
        Response("hi")
        .set({f"p{i}": "v" * 200 for i in range(400)})  # nothing large enough to drop alone
        .remove("customer_id")  # an earlier caller's answer
        .invalidate("date")
    )
    data, cuts = fit(reply.to_dict(request), 64 * 1024, "sorry")

    out = assert_valid_response(data)
    assert cuts[-1] == "everything"
    params = out["sessionInfo"]["parameters"]
    assert params["customer_id"] is None and params["date"] is None and "p1" not in params
    assert out["pageInfo"]["formInfo"]["parameterInfo"][0]["state"] == "INVALID"


def _nested(levels, value="ORD-1001"):
    for _ in range(levels):
        value = {"a": value}
    return value


def _parses(body):
    from google.cloud.dialogflowcx_v3.types import WebhookResponse

    try:
        WebhookResponse.from_json(json.dumps(body), ignore_unknown_fields=False)
    except Exception:
        return False
    return True


@pytest.mark.parametrize(
    ("place", "deepest"),
    [
        (lambda value: Response().set(p=value), 48),
        (lambda value: Response().payload(p=value), 48),
        (lambda value: Response().custom({"p": value}), 47),
        (lambda value: Response().handoff(p=value), 47),
        (lambda value: Response().success(p=value), 47),
    ],
    ids=["session-parameter", "payload", "custom-message", "handoff", "success"],
)
def test_values_nested_deeper_than_dialogflow_parses_are_cut(place, deepest):
    # The limits fit() assumes are the parser's own: the deepest value parses, one more does not.
    assert _parses(place(_nested(deepest)).to_dict())
    assert not _parses(place(_nested(deepest + 1)).to_dict())

    kept, kept_cuts = fit(place(_nested(deepest)).to_dict(), 64 * 1024, "sorry")
    data, cuts = fit(place(_nested(deepest + 1)).with_outcome("ok").to_dict(), 64 * 1024, "sorry")

    assert kept_cuts == [] and json.loads(kept) == place(_nested(deepest)).to_dict()
    assert len(cuts) == 1 and cuts[0].endswith("nested too deep)")
    out = assert_valid_response(data)
    assert out["sessionInfo"]["parameters"]["webhook_outcome"] == "ok"


def test_small_responses_are_untouched():
    body = Response("hi").to_dict()
    data, cuts = fit(body, 64 * 1024, "sorry")
    assert cuts == [] and json.loads(data) == body
