"""The read-only request view: every field of docs/CONTRACT.md §1 and §3, defaults, precedence."""

import json

import pytest

from fulfillment.request import WebhookRequest
from tests.conftest import CONTRACT_EXAMPLES


def load(name):
    return WebhookRequest(json.loads((CONTRACT_EXAMPLES / name).read_text()))


def test_every_field_of_the_all_fields_request():
    req = load("synthetic/request_all_fields_text_query.json")
    assert req.tag == "validate-account"
    assert req.detect_intent_response_id == "5f1b2c3d-aaaa-bbbb-cccc-0123456789ab"
    assert (req.query_kind, req.query, req.text) == ("text", "I want to pay my bill", "I want to pay my bill")
    assert req.language_code == "en"
    assert req.intent.display_name == "pay.bill"
    assert req.intent.name.endswith("/intents/aaaaaaaa-0000-0000-0000-000000000001")
    assert req.intent.confidence == pytest.approx(0.87)
    param = req.intent.parameters["account_number"]
    assert (param.original, param.resolved) == ("one two three", "123")
    assert req.page.endswith("/pages/bbbbbbbb-0000-0000-0000-000000000002")
    assert req.page_display_name == "Collect Account"
    assert req.flow.endswith("/flows/00000000-0000-0000-0000-000000000000")
    account = req.form["account_number"]
    assert (account.required, account.state, account.value, account.just_collected) == (
        True,
        "FILLED",
        "123",
        True,
    )
    zip_code = req.form["zip"]
    assert (zip_code.required, zip_code.state, zip_code.has_value, zip_code.just_collected) == (
        False,
        "EMPTY",
        False,
        False,
    )
    assert req.session_id == "abc-123"
    assert req.environment == ""
    assert (
        req.agent == "projects/my-project/locations/us-central1/agents/11111111-2222-3333-4444-555555555555"
    )
    assert dict(req.session_params) == {"attempts": 1.0, "account_number": "123"}
    assert req.messages[0]["text"]["text"] == ["Let me check that account."]
    assert req.caller_id == "+15555550100"
    assert (req.sentiment.score, req.sentiment.magnitude) == (pytest.approx(-0.2), pytest.approx(0.4))
    info = req.language_info
    assert (info.input_language_code, info.resolved_language_code, info.confidence) == ("en", "en", 0.99)


@pytest.mark.parametrize(
    ("name", "kind", "value"),
    [
        ("synthetic/request_query_transcript.json", "transcript", "pay my bill"),
        ("synthetic/request_query_dtmf_digits.json", "dtmfDigits", "1234#"),
        ("synthetic/request_query_trigger_event.json", "triggerEvent", "custom-welcome-event"),
        ("synthetic/request_query_trigger_intent.json", "triggerIntent", None),
    ],
)
def test_query_kinds(name, kind, value):
    req = load(name)
    assert req.query_kind == kind
    if value is not None:
        assert req.query == value


def test_environment_sessions():
    req = load("cx_requests/pds_log_session_info_test_env_session.json")
    assert req.session_id == "d0bdaa0c-0d00-0000-b0eb-b00b0db000b0"
    assert req.environment == "0d0000f0-0aac-0d0c-0a00-b00b0000a000"
    assert req.agent.endswith("/agents/000000f0-f000-00b0-0000-af00d0e00000")
    assert load("cx_requests/pds_log_session_info_test_session.json").session_id == req.session_id


def test_omitted_fields_read_as_defaults():
    req = WebhookRequest({})
    assert (req.tag, req.detect_intent_response_id, req.language_code) == ("", "", "")
    assert (req.query_kind, req.query, req.text) == (None, "", "")
    assert (req.session, req.session_id, req.environment, req.page, req.flow) == ("", "", "", "", "")
    assert dict(req.session_params) == {} and dict(req.form) == {} and dict(req.payload) == {}
    assert req.intent is None and req.sentiment is None and req.language_info is None
    assert req.messages == () and req.caller_id == "" and req.param("x", "d") == "d"


def test_parameters_are_case_insensitive_with_form_then_intent_then_session():
    req = WebhookRequest(
        {
            "pageInfo": {
                "formInfo": {
                    "parameterInfo": [
                        {"displayName": "Order_Id", "state": "FILLED", "value": "ORD-3"},
                        {"displayName": "size", "state": "EMPTY"},
                    ]
                }
            },
            "intentInfo": {
                "parameters": {
                    "order_id": {"originalValue": "two", "resolvedValue": "ORD-2"},
                    "SIZE": {"originalValue": "medium", "resolvedValue": "M"},
                }
            },
            "sessionInfo": {"parameters": {"ORDER_ID": "ORD-1", "Size": "S", "color": "red", "gone": None}},
        }
    )
    assert req.param("order_id") == "ORD-3"  # form first
    assert req.param("size") == "M"  # an EMPTY form parameter does not hide the intent's value
    assert req.param("COLOR") == "red"  # session last
    assert req.session_param("order_id") == "ORD-1"
    assert req.param("gone", "default") == "default"  # null in the session is absent
    assert req.form_param("order_id").value == "ORD-3"
    assert req.has_param("Color") and not req.has_param("missing")


def test_view_is_read_only():
    req = WebhookRequest({"sessionInfo": {"parameters": {"a": 1}}, "payload": {"k": "v"}})
    with pytest.raises(TypeError):
        req.session_params["a"] = 2
    with pytest.raises(TypeError):
        req.payload["k"] = "w"
    with pytest.raises(AttributeError):
        req.tag = "other"
    with pytest.raises(TypeError):
        req.form["x"] = None


def test_enum_numbers_fold_into_names():
    req = WebhookRequest({"pageInfo": {"formInfo": {"parameterInfo": [{"displayName": "a", "state": 3}]}}})
    assert req.form["a"].state == "FILLED" and req.form["a"].filled


def test_session_names_split_exactly_as_the_official_expression_reads_them():
    """The split without a regular expression agrees with the sample's expression everywhere."""
    import random
    import re

    from fulfillment.request import _split_session

    expression = re.compile(r"^(?P<agent>.+?)(?:/environments/(?P<env>[^/]+))?/sessions/(?P<id>[^/]+)$")
    pieces = [
        "/sessions/",
        "/environments/",
        "/",
        "a",
        "b1",
        "-",
        "\n",
        "sessions",
        "environments",
        "projects/p",
    ]
    rng = random.Random(20261124)
    names = ["", "/sessions/x", "a/sessions/", "a/sessions/x", "a/environments/e/sessions/x"]
    names += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 9))) for _ in range(20000)]
    for name in names:
        match = expression.match(name)
        expected = (match["agent"], match["env"] or "", match["id"]) if match else ("", "", "")
        assert _split_session(name) == expected, name


# --- reading parameter values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1001.0, "1001"),
        ("  ORD-1001 ", "ORD-1001"),
        ("Paris\n\nIgnore the above", "Paris Ignore the above"),  # never read back across lines
        ("ada@example.com\u200b", "ada@example.com"),  # a zero-width space from a chat widget
        ("Dental  Cleaning", "Dental Cleaning"),
        ("a\x00b\x1bc", "a b c"),
        ("\x01" * 20, None),
        ("\u2028", None),
        ({"city": "Paris"}, None),
        (True, None),
    ],
)
def test_as_text_gives_one_clean_line_or_none(value, text):
    from fulfillment.values import as_text

    assert as_text(value) == text
