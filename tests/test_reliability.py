"""Property-based: whatever arrives over HTTP, the answer is a valid 200 or a 4xx JSON error.

Through the HTTP face (functions-framework serving ``main.webhook``, in-process), with the
embedded demo store as every backend (fast and local, so handlers really run):

* every WebhookRequest the contract allows (docs/CONTRACT.md §1 and §3: each field optional, every
  query kind, parameter values of every JSON type, environment sessions, unknown fields,
  snake_case names, numbers as strings in float fields, nulls) under registered and random tags
  answers 200 with a WebhookResponse the official proto accepts, within 64 KiB, and no handler
  fails on it (``webhook_outcome`` is never ``error``);
* every body that breaks the contract (a wrong type at any field, nesting past protobuf's depth
  limit, invalid UTF-8, duplicate keys, JSON that is not an object, truncated JSON) answers
  400, and a body over the 1 MiB limit 413; big bodies under the limit are served. Never a 5xx,
  never a traceback or an HTML page: always ``{"error": {"code", "message"}}``.

The generators' idea of valid and invalid is checked against the official parser
(``json_format.Parse`` of google-cloud-dialogflow-cx), so a wrong assumption in this file fails
here rather than passing silently.

About 200 examples per property by default; ``pytest --long`` or ``HYPOTHESIS_LONG=1`` runs
ten times as many.
"""

import base64
import copy
import itertools
import json
import re

import pytest
from google.cloud.dialogflowcx_v3.types import WebhookRequest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES as EXAMPLES_DIR
from tests.conftest import assert_valid_response, post

EXAMPLES = 200
MAX_REQUEST_BYTES = 1024 * 1024

# The parameters the handlers read, so generated values reach handler code and not only the
# parser (any case: parameter names are case-insensitive).
HANDLER_PARAMS = (
    "order_id", "item_id", "return_reason", "product_id", "size", "color", "customer_email", "email",
    "customer_name", "customer_phone", "account_id", "account_number", "date", "time", "service",
    "city", "handoff_reason",
)  # fmt: skip
# Values the demo store knows, so some calls succeed all the way through.
KNOWN_VALUES = (
    "ORD-1001", "ord 1002", "ORD-1003", "ORD-1004", "ORD-1006", "ORD-9999", "SKU-100", "SKU-300",
    "10", "black", "blue", "haircut", "dental-cleaning", "Oslo", "London", "2026-12-01", "15:30",
    "3:05 pm", "ada@example.com", "ACC-1001", "+15555550123",
)  # fmt: skip


@pytest.fixture
def examples(long_run):
    return EXAMPLES * (10 if long_run else 1)


def check(examples, strategy, prop):
    """Run ``prop`` on ``examples`` values of ``strategy`` (the count comes from a fixture)."""
    settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(strategy)(prop))()


def proto_accepts(data):
    """The official parser's verdict: what Dialogflow's own types accept."""
    try:
        json_format.Parse(data, WebhookRequest()._pb, ignore_unknown_fields=True)
    except Exception:  # ParseError, and the UnicodeDecodeError Parse lets through
        return False
    return True


def assert_json_error(response, status):
    assert response.status_code == status, (response.status_code, response.data[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    assert b"Traceback" not in response.data and b"<html" not in response.data.lower()
    body = json.loads(response.data)
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def assert_served(response):
    assert response.status_code == 200, (response.status_code, response.data[:300])
    assert response.headers["Content-Type"] == "application/json"
    answer = assert_valid_response(response.data)
    outcome = answer["sessionInfo"]["parameters"]["webhook_outcome"]
    assert outcome != "error", f"a handler failed on a valid request: {answer}"
    return answer


# --- valid requests ----------------------------------------------------------------------------

IDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
TEXT = st.text(max_size=30)  # any Unicode, but no lone surrogates: JSON cannot carry them
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
    | st.sampled_from(KNOWN_VALUES)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
# What CX system entities resolve to (values.py reads these shapes), with odd numbers in them.
ENTITY_SHAPES = st.one_of(
    st.fixed_dictionaries({"year": JSON_SCALARS, "month": JSON_SCALARS, "day": JSON_SCALARS}),
    st.fixed_dictionaries({"hours": JSON_SCALARS, "minutes": JSON_SCALARS}),
    st.fixed_dictionaries({"amount": JSON_SCALARS, "currency": JSON_SCALARS}),
    st.fixed_dictionaries({"year": st.floats(1, 3000), "month": st.floats(1, 12), "day": st.floats(1, 31)}),
)
PARAM_VALUES = JSON_VALUES | ENTITY_SHAPES
PARAM_NAMES = (
    st.sampled_from(HANDLER_PARAMS).flatmap(lambda name: st.sampled_from([name, name.upper(), name.title()]))
    | TEXT
)
# A float (32-bit) field: a number, or a string or integer the proto parser reads as one.
FLOAT_FIELD = st.one_of(
    st.floats(-1e6, 1e6),
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6).map(repr),
    st.integers(-1000, 1000).map(str),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "0.5", "1e3"]),
)
QUERY_KINDS = ("text", "triggerIntent", "transcript", "triggerEvent", "dtmfDigits")


def snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m[1].lower(), name)


@st.composite
def message(draw, required=(), optional=(), extra=True):
    """A proto message as JSON: ``optional`` fields each present or not, some set to null,
    names spelled as JSON (camelCase) or proto (snake_case), maybe unknown extra fields."""
    body = {}
    for name, strategy in required:
        body[name] = draw(strategy)
    for name, strategy in optional:
        if draw(st.booleans()):
            body[name] = None if draw(st.integers(0, 9)) == 0 else draw(strategy)
    spelled = {}
    for name, value in body.items():
        spelled[snake(name) if draw(st.integers(0, 4)) == 0 else name] = value
    if extra and draw(st.integers(0, 5)) == 0:
        spelled[draw(st.sampled_from(["futureField", "internalTraceId", "x-debug"]))] = draw(JSON_VALUES)
    return spelled


def sessions():
    plain = st.builds(
        "projects/{}/locations/{}/agents/{}/sessions/{}".format,
        IDS, st.sampled_from(["global", "us-central1", "europe-west1"]), IDS, IDS,
    )  # fmt: skip
    in_environment = st.builds(
        "projects/{}/locations/global/agents/{}/environments/{}/sessions/{}".format, IDS, IDS, IDS, IDS
    )
    return plain | in_environment | TEXT


def response_messages():
    audio = st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode())
    segment = st.one_of(
        message(required=[("audio", audio)], optional=[("allowPlaybackInterruption", st.booleans())]),
        message(required=[("uri", TEXT)], optional=[("allowPlaybackInterruption", st.booleans())]),
    )
    structs = st.dictionaries(TEXT, JSON_VALUES, max_size=3)
    kinds = st.one_of(
        st.tuples(st.just("text"), message(optional=[("text", st.lists(TEXT, max_size=3)),
                                                      ("allowPlaybackInterruption", st.booleans())])),
        st.tuples(st.just("payload"), structs),
        st.tuples(st.just("conversationSuccess"), message(optional=[("metadata", structs)])),
        st.tuples(st.just("outputAudioText"), st.one_of(message(required=[("text", TEXT)]),
                                                        message(required=[("ssml", TEXT)]))),
        st.tuples(st.just("liveAgentHandoff"), message(optional=[("metadata", structs)])),
        st.tuples(st.just("endInteraction"), st.just({})),
        st.tuples(st.just("playAudio"), message(optional=[("audioUri", TEXT)])),
        st.tuples(st.just("mixedAudio"), message(optional=[("segments", st.lists(segment, max_size=2))])),
        st.tuples(st.just("telephonyTransferCall"), message(optional=[("phoneNumber", TEXT)])),
        st.tuples(st.just("knowledgeInfoCard"), st.just({})),
        st.tuples(st.just("toolCall"), message(optional=[("tool", TEXT), ("action", TEXT),
                                                         ("inputParameters", structs)])),
    )  # fmt: skip
    response_type = st.sampled_from(["RESPONSE_TYPE_UNSPECIFIED", "ENTRY_PROMPT", "PARAMETER_PROMPT",
                                     "HANDLER_PROMPT", 0, 1, 2, 3])  # fmt: skip

    @st.composite
    def one(draw):
        kind, value = draw(kinds)
        rest = draw(message(optional=[("responseType", response_type), ("channel", TEXT)]))
        return {kind: value, **rest}

    return st.lists(one(), max_size=3)


@st.composite
def webhook_requests(draw, tags):
    # Registered tags three times in four: that is where the handlers are. (sampled_from picks
    # evenly; one_of and integers lean to their first and smallest choices.)
    registered = st.sampled_from(tags)
    tag = st.sampled_from([registered, registered, registered, TEXT]).flatmap(lambda chosen: chosen)
    intent_parameter = message(optional=[("originalValue", TEXT), ("resolvedValue", PARAM_VALUES)])
    parameter_info = message(
        optional=[
            ("displayName", PARAM_NAMES),
            ("required", st.booleans()),
            (
                "state",
                st.sampled_from(["PARAMETER_STATE_UNSPECIFIED", "EMPTY", "INVALID", "FILLED", 0, 1, 2, 3]),
            ),
            ("value", PARAM_VALUES),
            ("justCollected", st.booleans()),
        ]
    )
    fields = [
        ("detectIntentResponseId", st.uuids().map(str) | TEXT),
        ("languageCode", st.sampled_from(["en", "en-US", "de", "fr-CA", "ja"]) | TEXT),
        ("fulfillmentInfo", message(optional=[("tag", tag)])),
        ("intentInfo", message(optional=[
            ("lastMatchedIntent", TEXT),
            ("displayName", TEXT),
            ("parameters", st.dictionaries(PARAM_NAMES, intent_parameter, max_size=4)),
            ("confidence", FLOAT_FIELD),
        ])),
        ("pageInfo", message(optional=[
            ("currentPage", TEXT),
            ("displayName", TEXT),
            ("formInfo", message(optional=[("parameterInfo", st.lists(parameter_info, max_size=3))])),
        ])),
        ("sessionInfo", message(optional=[
            ("session", sessions()),
            ("parameters", st.dictionaries(PARAM_NAMES, PARAM_VALUES, max_size=6)),
        ])),
        ("messages", response_messages()),
        ("payload", st.dictionaries(TEXT, JSON_VALUES, max_size=3)
                    | st.just({"telephony": {"caller_id": "+15555550100"}})),
        ("sentimentAnalysisResult", message(optional=[("score", FLOAT_FIELD), ("magnitude", FLOAT_FIELD)])),
        ("languageInfo", message(optional=[
            ("inputLanguageCode", TEXT), ("resolvedLanguageCode", TEXT), ("confidenceScore", FLOAT_FIELD),
        ])),
    ]  # fmt: skip
    query = draw(st.sampled_from((None, *QUERY_KINDS)))
    if query is not None:
        fields.append((query, TEXT))
    body = draw(message(optional=fields))
    if draw(st.sampled_from([True, True, True, False])):  # mostly a tag, though it is optional
        body.pop("fulfillment_info", None)
        body["fulfillmentInfo"] = {"tag": draw(tag)}
    return body


def encoded(body, ascii_only):
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8")


def test_every_valid_request_answers_200_with_a_valid_response(client, app, examples):
    def prop(case):
        body, ascii_only = case
        data = encoded(body, ascii_only)
        assert proto_accepts(data), "the generator made an invalid request"
        assert_served(post(client, data))

    check(examples, st.tuples(webhook_requests(app.tags), st.booleans()), prop)


def test_every_registered_tag_answers_its_example_with_any_parameter_values(client, app, examples):
    """The same, weighted to what handlers act on: each tag's ready-to-send example request
    (examples/<tag>.json), its parameters kept, dropped or replaced by values of any type."""
    # A tag without examples/<tag>.json fails test_every_tag_has_an_example, which says so.
    bases = {
        tag: json.loads(path.read_text())
        for tag in app.tags
        if (path := EXAMPLES_DIR / f"{tag}.json").exists()
    }

    @st.composite
    def varied_examples(draw):
        body = copy.deepcopy(bases[draw(st.sampled_from(sorted(bases)))])
        body["detectIntentResponseId"] = str(draw(st.uuids()))  # a new turn: side effects run
        params = body.setdefault("sessionInfo", {}).setdefault("parameters", {})
        for name in sorted(params):
            change = draw(st.sampled_from(["keep", "keep", "drop", "replace", "known"]))
            if change == "drop":
                del params[name]
            elif change == "replace":
                params[name] = draw(PARAM_VALUES)
            elif change == "known":
                params[name] = draw(st.sampled_from(KNOWN_VALUES))
        return body

    def prop(body):
        assert_served(post(client, body))

    check(examples, varied_examples(), prop)


# --- invalid requests ----------------------------------------------------------------------------

# Each field of the contract, by the kind of value it holds, and values of the wrong kind.
# json_format takes a string or a list as an empty message, and a bool or a fraction as a number
# in a float or enum field: those are not wrong, so they are not generated.
FIELDS_BY_KIND = {
    "string": [
        "detectIntentResponseId", "text", "triggerIntent", "transcript", "triggerEvent", "dtmfDigits",
        "languageCode", "fulfillmentInfo.tag", "intentInfo.lastMatchedIntent", "intentInfo.displayName",
        "intentInfo.parameters.p.originalValue", "pageInfo.currentPage", "pageInfo.displayName",
        "pageInfo.formInfo.parameterInfo.0.displayName", "sessionInfo.session", "messages.0.text.text.0",
        "messages.0.channel", "languageInfo.inputLanguageCode", "languageInfo.resolvedLanguageCode",
        "messages.0.outputAudioText.text", "messages.0.outputAudioText.ssml", "messages.0.playAudio.audioUri",
        "messages.0.mixedAudio.segments.0.uri", "messages.0.telephonyTransferCall.phoneNumber",
        "messages.0.toolCall.tool", "messages.0.toolCall.action",
    ],
    "bytes": ["messages.0.mixedAudio.segments.0.audio"],
    "float": [
        "intentInfo.confidence", "sentimentAnalysisResult.score", "sentimentAnalysisResult.magnitude",
        "languageInfo.confidenceScore",
    ],
    "bool": [
        "pageInfo.formInfo.parameterInfo.0.required", "pageInfo.formInfo.parameterInfo.0.justCollected",
        "messages.0.text.allowPlaybackInterruption", "messages.0.playAudio.allowPlaybackInterruption",
        "messages.0.mixedAudio.segments.0.allowPlaybackInterruption",
    ],
    "enum": ["pageInfo.formInfo.parameterInfo.0.state", "messages.0.responseType"],
    "message": [
        "fulfillmentInfo", "intentInfo", "pageInfo", "pageInfo.formInfo", "sessionInfo",
        "sentimentAnalysisResult", "languageInfo", "messages.0.text", "intentInfo.parameters.p",
        "pageInfo.formInfo.parameterInfo.0", "messages.0", "messages.0.outputAudioText",
        "messages.0.endInteraction", "messages.0.knowledgeInfoCard", "messages.0.mixedAudio.segments.0",
        "messages.0.toolCall", "messages.0.conversationSuccess", "messages.0.liveAgentHandoff",
    ],
    "repeated": [
        "messages", "pageInfo.formInfo.parameterInfo", "messages.0.text.text", "messages.0.mixedAudio.segments",
    ],
    "map": ["sessionInfo.parameters", "intentInfo.parameters"],
    "struct": [
        "payload", "messages.0.payload", "messages.0.conversationSuccess.metadata",
        "messages.0.liveAgentHandoff.metadata", "messages.0.toolCall.inputParameters",
    ],
}  # fmt: skip
WRONG_VALUES = {
    "string": st.integers() | st.floats(allow_nan=False) | st.booleans() | st.just({}) | st.just([]),
    "bytes": st.integers() | st.booleans() | st.just({}) | st.just([]),
    "float": st.text(alphabet="abcxyz ", min_size=1, max_size=5) | st.just({}) | st.just([1.0]),
    "bool": st.integers() | st.text(max_size=5) | st.just({}) | st.just([]),
    "enum": st.just({}) | st.just([]),
    "message": st.integers() | st.floats(allow_nan=False) | st.booleans(),
    "repeated": st.integers() | st.booleans() | st.text(max_size=5) | st.just({}),
    "map": st.integers() | st.booleans() | st.text(max_size=5) | st.just([]),
    "struct": st.integers() | st.booleans() | st.text(max_size=5) | st.just([]),
}
WRONG_TYPES = st.sampled_from(sorted(FIELDS_BY_KIND)).flatmap(
    lambda kind: st.tuples(st.sampled_from(FIELDS_BY_KIND[kind]), WRONG_VALUES[kind])
)


def placed(path, value):
    """A minimal valid body with ``value`` at ``path`` ("messages.0.text.text.0" style)."""
    body = {"fulfillmentInfo": {"tag": "lookup-order"}}
    parts = path.split(".")
    node = body
    for part, following in itertools.pairwise(parts):
        container = [] if following.isdigit() else {}
        if isinstance(node, list):  # paths only ever use element 0
            if not node:
                node.append(container)
            node = node[0]
        else:
            node = node.setdefault(part, container)
    if isinstance(node, list):
        node.append(value)
    else:
        node[parts[-1]] = value
    return body


def test_a_wrong_type_at_any_field_answers_400(client, examples):
    def prop(case):
        path, value = case
        data = json.dumps(placed(path, value)).encode()
        assert not proto_accepts(data), f"{path} = {value!r} is not wrong for the official parser"
        error = assert_json_error(post(client, data), 400)
        assert error["code"] == "bad-request"

    check(examples, WRONG_TYPES, prop)


def test_placed_builds_the_path_it_is_given():
    assert placed("messages.0.text.text.0", 5) == {
        "fulfillmentInfo": {"tag": "lookup-order"},
        "messages": [{"text": {"text": [5]}}],
    }
    assert placed("fulfillmentInfo.tag", 7) == {"fulfillmentInfo": {"tag": 7}}
    assert placed("intentInfo.parameters.p.originalValue", 1)["intentInfo"] == {
        "parameters": {"p": {"originalValue": 1}}
    }


def nested(depth, lists):
    """JSON text nesting ``depth`` lists or objects (built as text: json.dumps would recurse)."""
    opening, closing = ("[", "]") if lists else ('{"k": ', "}")
    return opening * depth + '"leaf"' + closing * depth


def test_nesting_is_served_up_to_protobufs_depth_limit_and_refused_past_it(client, examples):
    def prop(case):
        depth, lists, where = case
        value = nested(depth, lists)
        if where == "session":
            text = '{"fulfillmentInfo": {"tag": "lookup-order"}, "sessionInfo": {"parameters": {"order_id": %s}}}'
        else:
            text = '{"fulfillmentInfo": {"tag": "lookup-order"}, "payload": {"deep": %s}}'
        data = (text % value).encode()
        response = post(client, data)
        if proto_accepts(data):
            assert_served(response)
        else:
            assert_json_error(response, 400)

    depths = st.integers(1, 60) | st.integers(40, 55) | st.integers(60, 3000)
    check(examples, st.tuples(depths, st.booleans(), st.sampled_from(["session", "payload"])), prop)


def test_big_strings_and_arrays_are_served_under_1_mib_and_refused_over_it(client, app, examples):
    assert app.settings.max_request_bytes == MAX_REQUEST_BYTES

    def prop(case):
        size, shape, tag = case
        params = {"order_id": "x" * size} if shape == "string" else {"items": [7] * (size // 2)}
        data = json.dumps({"fulfillmentInfo": {"tag": tag}, "sessionInfo": {"parameters": params}}).encode()
        response = post(client, data)
        if len(data) <= MAX_REQUEST_BYTES:
            assert_served(response)
        else:
            assert_json_error(response, 413)

    sizes = st.integers(0, 2 * MAX_REQUEST_BYTES) | st.integers(
        MAX_REQUEST_BYTES - 80, MAX_REQUEST_BYTES + 10
    )
    check(examples, st.tuples(sizes, st.sampled_from(["string", "array"]),
                                             st.sampled_from(app.tags)), prop)  # fmt: skip


VALID_BODY = {
    "detectIntentResponseId": "turn-1",
    "fulfillmentInfo": {"tag": "lookup-order"},
    "sessionInfo": {"session": "projects/p/locations/global/agents/a/sessions/s", "parameters": {"order_id": "ORD-1002"}},
    "text": "where is my order",
    "languageCode": "en",
}  # fmt: skip
VALID_DATA = json.dumps(VALID_BODY, ensure_ascii=False).encode()
# Byte sequences that are not UTF-8: stray continuation bytes, truncated sequences, overlong
# encodings, UTF-16 surrogates encoded as UTF-8, bytes that never occur in UTF-8.
INVALID_UTF8 = st.sampled_from(
    [
        b"\x80",
        b"\xbf",
        b"\xc3",
        b"\xe2\x82",
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\xff",
        b"\xfe",
    ]
)


def test_broken_json_answers_400(client, examples):
    def truncated(cut):
        return VALID_DATA[: cut % len(VALID_DATA)]

    def with_invalid_utf8(case):
        position, garbage = case
        # Inside the text value, so the JSON is well formed apart from the encoding.
        at = VALID_DATA.index(b"where") + position % 5
        return VALID_DATA[:at] + garbage + VALID_DATA[at:]

    def with_duplicate_key(case):
        where, key = case
        if where == "top":
            return VALID_DATA[:-1] + b', "' + key.encode() + b'": 1, "' + key.encode() + b'": 2}'
        return (
            json.dumps({"sessionInfo": {"parameters": {"p": {key: 1}}}})
            .encode()
            .replace(b"1}", b'1, "' + key.encode() + b'": 2}', 1)
        )

    broken = st.one_of(
        st.integers(0, 10_000).map(truncated),
        st.tuples(st.integers(0, 4), INVALID_UTF8).map(with_invalid_utf8),
        st.tuples(
            st.sampled_from(["top", "nested"]), st.sampled_from(["a", "text", "fulfillmentInfo", "k"])
        ).map(with_duplicate_key),
        # Valid JSON that is not an object.
        st.one_of(JSON_SCALARS, st.lists(JSON_VALUES, max_size=3)).map(lambda v: json.dumps(v).encode()),
        # JavaScript's literals, which Python's json would take and RFC 8259 does not.
        st.sampled_from([b"NaN", b"Infinity", b"-Infinity"]).map(
            lambda literal: VALID_DATA[:-1] + b', "intentInfo": {"confidence": ' + literal + b"}}"
        ),
        # A lone surrogate, which no UTF-8 text can hold.
        st.just(VALID_DATA.replace(b"where", b"\\ud800where")),
        st.binary(max_size=40).filter(lambda b: not b.strip().startswith(b"{")),
    )

    def prop(data):
        assert_json_error(post(client, data), 400)

    check(examples, broken, prop)
