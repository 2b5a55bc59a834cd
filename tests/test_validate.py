"""parse_body accepts exactly what protobuf's JSON parser accepts (on strict JSON), and says where.

The reference is the real parser: ``json_format.Parse(text, WebhookRequest()._pb,
ignore_unknown_fields=True)`` from google-cloud-dialogflow-cx (test-only). Where parse_body is
stricter on purpose (NaN/Infinity literals, lone surrogates, a top level that is not an object),
``strict_json_ok`` below states it independently of the code under test.

HYPOTHESIS_LONG=1 runs the property tests with ten times more examples.
"""

import base64
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from google.cloud.dialogflowcx_v3.types import WebhookRequest
from google.protobuf import descriptor as proto_descriptor
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fulfillment import _validate
from fulfillment._validate import MAX_DEPTH, SchemaViolation, parse_body

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "tests" / "fixtures" / "contract"
VALID_REQUESTS = sorted(
    [
        *(EXAMPLES / "cx_requests").glob("*.json"),
        *(EXAMPLES / "synthetic").glob("request_*.json"),
        EXAMPLES / "synthetic" / "bench_cx_request.json",
    ]
)

ROOT = WebhookRequest.pb().DESCRIPTOR
FieldDescriptor = proto_descriptor.FieldDescriptor

EXAMPLES_PER_TEST = 300 * (10 if os.environ.get("HYPOTHESIS_LONG") == "1" else 1)
PROPERTY = settings(
    max_examples=EXAMPLES_PER_TEST,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# --- the reference --------------------------------------------------------------------------


def proto_parse(data):
    return json_format.Parse(data, WebhookRequest()._pb, ignore_unknown_fields=True)


def proto_accepts(data):
    try:
        proto_parse(data)
    except Exception:  # ParseError, and UnicodeDecodeError which Parse lets through
        return False
    return True


def strict_json_ok(data):
    """parse_body's deliberate extra strictness, restated: UTF-8 without BOM, no NaN/Infinity
    literals, no string or key that UTF-8 cannot encode (a lone surrogate), an object on top."""

    def refuse(literal):
        raise ValueError(literal)

    try:
        value = json.loads(data.decode("utf-8"), parse_constant=refuse)
    except (ValueError, RecursionError):
        return False
    if not isinstance(value, dict):
        return False
    stack = [value]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in items:
            for text in (key, item):
                if isinstance(text, str):
                    try:
                        text.encode("utf-8")
                    except UnicodeEncodeError:
                        return False
            if isinstance(item, (dict, list)):
                stack.append(item)
    return True


def outcome(data):
    """(accepted, parsed body or the SchemaViolation); any other exception fails the test."""
    try:
        return True, parse_body(data)
    except SchemaViolation as err:
        return False, err


def assert_same_verdict(data):
    expected = strict_json_ok(data) and proto_accepts(data)
    accepted, result = outcome(data)
    assert accepted == expected, (data[:300], result)
    if accepted:
        assert_means_the_same(data, result)
        assert_canonical(result, ROOT)
    else:
        assert isinstance(result.path, str)
        assert len(str(result)) < 300


def assert_means_the_same(data, body):
    """The returned dict, fed back to the proto parser, gives the very message the raw body gave:
    renaming, merging and normalizing lost or changed nothing."""
    original = proto_parse(data).SerializeToString(deterministic=True)
    rebuilt = proto_parse(json.dumps(body).encode()).SerializeToString(deterministic=True)
    assert rebuilt == original, body


def assert_canonical(obj, message, path=""):
    """Every field of ``obj`` is in its JSON spelling and canonical form, checked from the
    descriptors (not from the generated schema)."""
    proto_only = {f.name for f in message.fields} - {f.json_name for f in message.fields}
    by_json_name = {f.json_name: f for f in message.fields}
    for key, value in obj.items():
        assert key not in proto_only, f"{path}{key} kept its proto name"
        field = by_json_name.get(key)
        if field is None or value is None:
            continue
        where = f"{path}{key}"
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            for item in value.values():
                _assert_canonical_value(value_field, item, where)
        elif field.is_repeated:
            for item in value:
                _assert_canonical_value(field, item, where)
        else:
            _assert_canonical_value(field, value, where)


def _assert_canonical_value(field, value, where):
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        full_name = field.message_type.full_name
        if full_name == "google.protobuf.Struct":
            assert isinstance(value, dict), where
        elif full_name != "google.protobuf.Value":
            assert isinstance(value, dict), f"{where} is not an object: {value!r}"
            assert_canonical(value, field.message_type, where + ".")
    elif field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        assert type(value) is float or value in ("NaN", "Infinity", "-Infinity"), (where, value)
    elif field.type == FieldDescriptor.TYPE_ENUM:
        names = field.enum_type.values_by_name
        assert value in names or (type(value) is int and value not in field.enum_type.values_by_number), (
            where,
            value,
        )


def _is_map(field):
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def dumps(body):
    return json.dumps(body).encode()


# --- valid bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", VALID_REQUESTS, ids=lambda p: p.name)
def test_every_example_request_is_accepted(path):
    data = path.read_bytes()
    assert proto_accepts(data)
    body = parse_body(data)
    assert body == json.loads(data)  # camelCase and canonical already: nothing to rewrite
    assert_canonical(body, ROOT)


def test_example_requests_were_found():
    names = {p.name for p in VALID_REQUESTS}
    assert "bench_cx_request.json" in names and "request_all_fields_text_query.json" in names
    assert len(names) >= 10


def test_the_common_case_rewrites_nothing(monkeypatch):
    def no_rewrite(*args):
        raise AssertionError("a camelCase body was rewritten")

    monkeypatch.setattr(_validate, "_rename_to_json_names", no_rewrite)
    monkeypatch.setattr(_validate, "_merge_message", no_rewrite)
    for path in VALID_REQUESTS:
        parse_body(path.read_bytes())


def test_proto_names_become_json_names_in_messages_only():
    body = parse_body(
        dumps(
            {
                "detect_intent_response_id": "r1",
                "fulfillment_info": {"tag": "t"},
                "trigger_event": "ev",
                "page_info": {
                    "current_page": "p",
                    "form_info": {"parameter_info": [{"display_name": "a", "just_collected": True}]},
                },
                "session_info": {"parameters": {"snake_key": {"inner_key": 1}}},
                "intent_info": {"parameters": {"p_1": {"original_value": "o", "resolved_value": {"x_y": 2}}}},
                "messages": [
                    {"output_audio_text": {"ssml": "<speak/>", "allow_playback_interruption": True}}
                ],
                "payload": {"caller_id": "+1", "nested_key": {"display_name": "stays"}},
                "some_unknown_field": {"display_name": "stays too"},
            }
        )
    )
    assert body == {
        "detectIntentResponseId": "r1",
        "fulfillmentInfo": {"tag": "t"},
        "triggerEvent": "ev",
        "pageInfo": {
            "currentPage": "p",
            "formInfo": {"parameterInfo": [{"displayName": "a", "justCollected": True}]},
        },
        "sessionInfo": {"parameters": {"snake_key": {"inner_key": 1}}},
        "intentInfo": {"parameters": {"p_1": {"originalValue": "o", "resolvedValue": {"x_y": 2}}}},
        "messages": [{"outputAudioText": {"ssml": "<speak/>", "allowPlaybackInterruption": True}}],
        "payload": {"caller_id": "+1", "nested_key": {"display_name": "stays"}},
        "some_unknown_field": {"display_name": "stays too"},
    }


@pytest.mark.parametrize(
    ("sent", "returned"),
    [
        # Both spellings of one field: the later wins, a message merges, null clears.
        (
            {"sessionInfo": {"session": "s"}, "session_info": {"parameters": {"x": 1}}},
            {"sessionInfo": {"session": "s", "parameters": {"x": 1}}},
        ),
        ({"languageCode": "en", "language_code": "de"}, {"languageCode": "de"}),
        ({"language_code": "de", "languageCode": None}, {"languageCode": None}),
        ({"triggerIntent": None, "trigger_intent": "i"}, {"triggerIntent": "i"}),
        (
            {"messages": [{"outputAudioText": {"text": "a"}, "output_audio_text": None}]},
            {"messages": [{"outputAudioText": None}]},
        ),
        (
            {"intentInfo": {"parameters": {"a": {"resolvedValue": {"x": 1}, "resolved_value": {"y": 2}}}}},
            {"intentInfo": {"parameters": {"a": {"resolvedValue": {"y": 2}}}}},
        ),
        # A message given as a string or a list of unknown names is an empty message.
        ({"fulfillmentInfo": "abc"}, {"fulfillmentInfo": {}}),
        ({"pageInfo": {"formInfo": []}}, {"pageInfo": {"formInfo": {}}}),
        ({"intentInfo": {"parameters": {"p": ["x", "y"]}}}, {"intentInfo": {"parameters": {"p": {}}}}),
        # Floats in canonical form, clamped to float32 as the proto stores them.
        ({"intentInfo": {"confidence": "0.5"}}, {"intentInfo": {"confidence": 0.5}}),
        ({"intentInfo": {"confidence": 1}}, {"intentInfo": {"confidence": 1.0}}),
        ({"intentInfo": {"confidence": True}}, {"intentInfo": {"confidence": 1.0}}),
        ({"intentInfo": {"confidence": "NaN"}}, {"intentInfo": {"confidence": "NaN"}}),
        ({"intentInfo": {"confidence": "-inf"}}, {"intentInfo": {"confidence": "-Infinity"}}),
        ({"intentInfo": {"confidence": "1e39"}}, {"intentInfo": {"confidence": "Infinity"}}),
        ({"intentInfo": {"confidence": 10**39}}, {"intentInfo": {"confidence": "Infinity"}}),
        (
            {"intentInfo": {"confidence": "3.4028235e38"}},
            {"intentInfo": {"confidence": 3.4028234663852886e38}},
        ),
    ],
    ids=lambda v: json.dumps(v)[:60],
)
def test_accepted_bodies_come_back_in_one_spelling_and_form(sent, returned):
    assert parse_body(dumps(sent)) == returned
    assert_same_verdict(dumps(sent))


def _state(value):
    return {"pageInfo": {"formInfo": {"parameterInfo": [{"displayName": "p", "state": value}]}}}


@pytest.mark.parametrize(
    ("sent", "returned"),
    [
        ("FILLED", "FILLED"),
        (2, "INVALID"),
        (" 2 ", "INVALID"),
        (True, "EMPTY"),
        (1.9, "EMPTY"),
        ("7", 7),
        (-(2**31), -(2**31)),
        # upb looks the number up truncated to int32, so these name real values.
        (2**32 + 1, "EMPTY"),
        (-(2**63), "PARAMETER_STATE_UNSPECIFIED"),
    ],
)
def test_enum_values_come_back_as_names_or_unknown_numbers(sent, returned):
    body = parse_body(dumps(_state(sent)))
    assert body["pageInfo"]["formInfo"]["parameterInfo"][0]["state"] == returned
    assert_same_verdict(dumps(_state(sent)))


@pytest.mark.parametrize("name", ["VALID", "filled", "1.0", "", "STATE_9"])
def test_an_unknown_enum_name_is_ignored_like_the_proto_parser_does(name):
    body = parse_body(dumps(_state(name)))
    assert body["pageInfo"]["formInfo"]["parameterInfo"] == [{"displayName": "p"}]
    assert_same_verdict(dumps(_state(name)))


def test_an_unknown_enum_name_does_not_clear_the_other_spelling():
    body = parse_body(dumps({"messages": [{"responseType": "ENTRY_PROMPT", "response_type": "NOPE"}]}))
    assert body == {"messages": [{"responseType": "ENTRY_PROMPT"}]}


def test_merging_two_spellings_of_a_message_keeps_one_member_of_each_oneof():
    # No mergeable WebhookRequest message has a oneof today (every oneof-holding message is
    # itself a oneof member), so the rule is checked on a made-up schema.
    inner = {"a": ("string", None, "choice", None), "b": ("string", None, "choice", None)}
    outer = {"m": ("message", inner, None, None), "n": ("string", None, None, None)}
    merged = _validate._merge_message({"m": {"a": "x"}, "n": "1"}, {"m": {"b": "y"}}, outer)
    assert merged == {"m": {"b": "y"}, "n": "1"}
    merged = _validate._merge_message({"m": {"a": "x"}}, {"m": {"b": None}}, outer)
    assert merged == {"m": {"a": "x", "b": None}}


def test_nulls_are_accepted_everywhere_a_field_may_be():
    body = {
        name: None
        for name in (
            "detectIntentResponseId",
            "text",
            "fulfillmentInfo",
            "intentInfo",
            "pageInfo",
            "sessionInfo",
            "messages",
            "payload",
            "sentimentAnalysisResult",
            "languageInfo",
        )
    }
    body["sessionInfo"] = {"parameters": {"gone": None}}
    body["pageInfo"] = {"formInfo": {"parameterInfo": [{"value": None, "state": None, "required": None}]}}
    body["intentInfo"] = {"confidence": None, "parameters": {"p": {"resolvedValue": None}}}
    assert parse_body(dumps(body)) == body
    assert_same_verdict(dumps(body))


@pytest.mark.parametrize(
    "text",
    [
        '{"text": "\\ud83d\\ude00"}',  # a valid escaped pair
        '{"text": "\\\\ud800"}',  # an escaped backslash, then the letters "ud800"
        '{"text": "\\u00e9\\u0041"}',
    ],
)
def test_escapes_that_are_not_lone_surrogates_are_fine(text):
    assert parse_body(text.encode())["text"] == json.loads(text)["text"]


def test_unknown_fields_are_kept_unchecked():
    body = {"fulfillmentInfo": {"tag": "t", "futureField": [1, {"x": None}]}, "undocumented": 5}
    assert parse_body(dumps(body)) == body


# --- broken bodies --------------------------------------------------------------------------

BROKEN = [
    ({"fulfillmentInfo": {"tag": 5}}, "fulfillmentInfo.tag"),
    ({"fulfillmentInfo": 5}, "fulfillmentInfo"),
    ({"fulfillmentInfo": ["tag"]}, "fulfillmentInfo"),
    ({"fulfillmentInfo": [1]}, "fulfillmentInfo"),
    ({"fulfillmentInfo": {"[ext.name]": 1}}, 'fulfillmentInfo["[ext.name]"]'),
    ({"[ext]": 1}, '["[ext]"]'),
    ({"sessionInfo": {"parameters": []}}, "sessionInfo.parameters"),
    ({"sessionInfo": {"parameters": "x"}}, "sessionInfo.parameters"),
    ({"session_info": {"session": 5}}, "session_info.session"),
    ({"sessionInfo": {"parameters": {"a b": 10**400}}}, 'sessionInfo.parameters["a b"]'),
    ({"intentInfo": {"parameters": {"order_id": None}}}, "intentInfo.parameters.order_id"),
    ({"intentInfo": {"parameters": {"order_id": 3}}}, "intentInfo.parameters.order_id"),
    ({"intentInfo": {"confidence": 1e39}}, "intentInfo.confidence"),
    ({"intentInfo": {"confidence": -3.5e38}}, "intentInfo.confidence"),
    ({"intentInfo": {"confidence": "high"}}, "intentInfo.confidence"),
    ({"intentInfo": {"confidence": "nan"}}, "intentInfo.confidence"),
    ({"intentInfo": {"confidence": [0.5]}}, "intentInfo.confidence"),
    ({"languageInfo": {"confidenceScore": 10**400}}, "languageInfo.confidenceScore"),
    ({"messages": {}}, "messages"),
    ({"messages": "hello"}, "messages"),
    ({"messages": [{"text": {"text": ["a"]}}, {}, {"text": {"text": [5]}}]}, "messages[2].text.text[0]"),
    ({"messages": [{"text": {"text": "a"}}]}, "messages[0].text.text"),
    ({"messages": [{"text": {"text": ["a", None]}}]}, "messages[0].text.text[1]"),
    ({"messages": [{"payload": []}]}, "messages[0].payload"),
    ({"messages": [{"payload": {}, "text": {}}]}, "messages[0].text"),
    ({"messages": [None]}, "messages[0]"),
    (
        {"messages": [{"mixedAudio": {"segments": [{"audio": "a"}]}}]},
        "messages[0].mixedAudio.segments[0].audio",
    ),
    (
        {"messages": [{"mixedAudio": {"segments": [{"audio": 5}]}}]},
        "messages[0].mixedAudio.segments[0].audio",
    ),
    (
        {"messages": [{"mixedAudio": {"segments": [{"audio": "abcd", "uri": "u"}]}}]},
        "messages[0].mixedAudio.segments[0].uri",
    ),
    ({"messages": [{"responseType": 2**31}]}, "messages[0].responseType"),
    ({"messages": [{"responseType": 2**32 + 5}]}, "messages[0].responseType"),
    ({"messages": [{"responseType": 2**63 + 1}]}, "messages[0].responseType"),
    ({"messages": [{"responseType": {}}]}, "messages[0].responseType"),
    ({"messages": [{"responseType": "-2147483649"}]}, "messages[0].responseType"),
    (
        {"messages": [{"playAudio": {"allowPlaybackInterruption": "true"}}]},
        "messages[0].playAudio.allowPlaybackInterruption",
    ),
    (
        {"pageInfo": {"formInfo": {"parameterInfo": [{"required": 1}]}}},
        "pageInfo.formInfo.parameterInfo[0].required",
    ),
    ({"pageInfo": {"formInfo": {"parameterInfo": [{}, None]}}}, "pageInfo.formInfo.parameterInfo[1]"),
    ({"pageInfo": {"formInfo": {"parameterInfo": {}}}}, "pageInfo.formInfo.parameterInfo"),
    ({"payload": []}, "payload"),
    ({"payload": "x"}, "payload"),
    ({"payload": {"a": [1, {"b": 10**400}]}}, "payload.a[1].b"),
    ({"text": "a", "transcript": "b"}, "transcript"),
    ({"dtmfDigits": "1", "text": ""}, "text"),
    ({"triggerIntent": "a", "trigger_intent": "b"}, "trigger_intent"),
    ({"text": 5}, "text"),
    ({"text": ["a"]}, "text"),
    ({"sentimentAnalysisResult": {"score": {}}}, "sentimentAnalysisResult.score"),
]


@pytest.mark.parametrize(("body", "path"), BROKEN, ids=[path for _, path in BROKEN])
def test_broken_bodies_are_rejected_where_the_problem_is(body, path):
    data = dumps(body)
    assert not proto_accepts(data), "the table must only hold bodies the proto parser rejects"
    with pytest.raises(SchemaViolation) as caught:
        parse_body(data)
    assert caught.value.path == path
    assert str(caught.value).startswith(path + ": ")


def _nested(depth, leaf):
    value = leaf
    for _ in range(depth):
        value = {"k": value}
    return value


def _nested_list(depth, leaf):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def _depth_cases():
    cases = []
    for depth in range(44, 52):
        for leaf in (1, None, {}, [], "s"):
            cases.append({"payload": _nested(depth, leaf)})
            cases.append({"payload": {"l": _nested_list(depth, leaf)}})
            cases.append({"sessionInfo": {"parameters": {"p": _nested(depth, leaf)}}})
            cases.append({"intentInfo": {"parameters": {"p": {"resolvedValue": _nested_list(depth, leaf)}}}})
            cases.append({"pageInfo": {"formInfo": {"parameterInfo": [{"value": _nested(depth, leaf)}]}}})
            cases.append({"messages": [{"toolCall": {"inputParameters": _nested(depth, leaf)}}]})
    return cases


def test_the_recursion_limit_is_protobufs_to_the_level():
    accepted = rejected = 0
    for body in _depth_cases():
        data = dumps(body)
        assert_same_verdict(data)
        if proto_accepts(data):
            accepted += 1
        else:
            rejected += 1
            with pytest.raises(SchemaViolation, match="nested too deeply"):
                parse_body(data)
    assert accepted and rejected  # the range straddles the limit
    assert MAX_DEPTH == 100


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'{"text": "a", "text": "b"}', "duplicate key"),
        (b'{"sessionInfo": {"parameters": {"x": 1, "x": 2}}}', "duplicate key"),
        (b'{"payload": {"a": [{"k": 1, "k": 1}]}}', "duplicate key"),
        (b'{"intentInfo": {"confidence": NaN}}', "NaN"),
        (b'{"payload": {"a": Infinity}}', "Infinity"),
        (b'{"unknown": -Infinity}', "Infinity"),
        (b'{"text": "caf\xe9"}', "UTF-8"),
        (b'{"text": "\xed\xa0\x80"}', "UTF-8"),  # a surrogate encoded as UTF-8 bytes
        (b"\xef\xbb\xbf{}", "byte order mark"),
        (b'{"text": "\\ud800"}', "surrogate"),
        (b'{"text": "\\udc00\\ud800"}', "surrogate"),
        (b'{"payload": {"\\uDBFF": 1}}', "surrogate"),
        (b'{"someUnknownField": ["x", "\\ud800"]}', "surrogate"),
        (b"[]", "JSON object"),
        (b'["text"]', "JSON object"),
        (b'"abc"', "JSON object"),
        (b"5", "JSON object"),
        (b"null", "JSON object"),
        (b"true", "JSON object"),
        (b"", "malformed JSON"),
        (b"{", "malformed JSON"),
        (b'{"text": "a"} x', "malformed JSON"),
        (b"{'text': 'a'}", "malformed JSON"),
        (b'{"text": "a\x01"}', "malformed JSON"),
        (b'{"payload": {"n": 1' + b"0" * 5000 + b"}}", "malformed JSON"),
        (b'{"a":' * 2000 + b"1" + b"}" * 2000, "nested too deeply"),
        (b"[" * 2000 + b"]" * 2000, "nested too deeply"),
        (b'{"payload": ' + b'{"a": ' * 200 + b"1" + b"}" * 201, "nested too deeply"),
    ],
)
def test_bodies_that_are_not_strict_json_are_rejected(data, fragment):
    with pytest.raises(SchemaViolation) as caught:
        parse_body(data)
    assert fragment in str(caught.value)
    str(caught.value).encode("utf-8")  # safe to put in a response


class _Duplicate(Exception):
    pass


def _reference_pairs(pairs):
    """The reference verdict on duplicate keys, independent of _validate: an object_pairs_hook."""
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise _Duplicate(keys)
    return dict(pairs)


# Duplicate keys are found by counting colons first (see _validate._decode): bodies where the
# count is close to fooling it. Each has exactly one duplicate, or none.
@pytest.mark.parametrize(
    ("data", "duplicate"),
    [
        (b'{"a": 1, "a": 2}', "a"),
        (b'{"a" : 1 , "a" : 2}', "a"),  # spaces around the colon
        (b'{"text": "10:30", "a": 1, "a": 2}', "a"),  # a colon in a string, and a duplicate
        (b'{"a": 1, "a": "10:30"}', "a"),  # the colon is in the value that is dropped
        (b'{"a": "10:30", "a": 1}', "a"),
        (b'{"x": "\\u003a", "a": 1, "a": 2}', "a"),  # an escaped colon the text's count misses
        (b'{"x": "\\u003A\\u003a", "a": {"b": ":"}, "a": 1}', "a"),
        (b'{"a:b": 1, "a:b": 2}', "a:b"),  # colons in the keys themselves
        (b'{"payload": {"k": {"n": 1, "n": 2}, "k": 3}}', "n"),  # inside a value dropped later
        (b'{"payload": {"a": [{"k": ":::", "k": 1}]}}', "k"),
        (b'{"someUnknownField": {"u": [1, {"v": 1, "v": 2}]}}', "v"),  # in a field nobody reads
        (b'{"payload": {"a": {"b": 1, "b": 2}}, "c": [', "b"),  # before a syntax error, as ever
        (b'{"text": "a:b", "text": "a:b"}', "text"),
        (b'{"text": "10:30"}', None),
        (b'{"payload": {"a:b": "c::d", "e": ["f:", {"g:": ":"}]}}', None),
        (b'{"text": "\\u003a", "payload": {"x": ":"}}', None),
        (b'{"text": "\\\\u003a:"}', None),  # an escaped backslash, then "u003a:" as written
        (b'{"payload": {"a": {}, "b": [{}, []], "c": ""}}', None),
    ],
)
def test_duplicate_keys_are_found_wherever_colons_are(data, duplicate):
    if duplicate is None:
        assert parse_body(data) == json.loads(data, object_pairs_hook=_reference_pairs)
    else:
        with pytest.raises(SchemaViolation, match=f'duplicate key "{re.escape(duplicate)}"'):
            parse_body(data)


_DUPLICATE_PRONE_KEYS = st.sampled_from(["a", "b", "a:b", ":"])
_COLON_PRONE_STRINGS = st.lists(
    st.sampled_from(["x", ":", "\\u003a", "\\u003A", "\\\\", "\\\\u003a", '\\"', "é"]), max_size=3
).map(lambda parts: '"' + "".join(parts) + '"')
_RAW_JSON = st.recursive(
    st.one_of(_COLON_PRONE_STRINGS, st.sampled_from(["1", "true", "null"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(st.tuples(_DUPLICATE_PRONE_KEYS, inner), max_size=3).map(
            lambda members: "{" + ", ".join(f'"{key}" : {value}' for key, value in members) + "}"
        ),
    ),
    max_leaves=12,
)


@PROPERTY
@given(_RAW_JSON)
def test_any_duplicate_key_is_found_and_no_other_body_is_refused_for_one(value):
    data = ('{"payload": {"v": ' + value + "}}").encode()
    try:
        json.loads(data, object_pairs_hook=_reference_pairs)
    except _Duplicate:
        with pytest.raises(SchemaViolation, match="duplicate key"):
            parse_body(data)
    else:
        assert parse_body(data) == json.loads(data)


def test_each_thread_counts_keys_in_its_own_list():
    import threading

    mine = _validate._KEY_COUNTING.sizes
    theirs = []
    worker = threading.Thread(target=lambda: theirs.append(_validate._KEY_COUNTING.sizes))
    worker.start()
    worker.join()
    assert theirs[0] is not mine
    parse_body(b'{"payload": {"a": 1}}')
    assert mine == [1, 1]  # payload's object, then the body's


def test_lone_surrogate_errors_name_the_place():
    with pytest.raises(SchemaViolation) as caught:
        parse_body(b'{"messages": [{"text": {"text": ["ok", "\\ud800"]}}]}')
    assert caught.value.path == "messages[0].text.text[1]"
    assert caught.value.logged_path == caught.value.path  # fields of the schema: no data


@pytest.mark.parametrize(
    "data, logged_path",
    [
        (b'{"payload": {"telephony": {"jane_doe": {"\\udc00": 1}}}}', "payload…"),
        (b'{"intentInfo": {"parameters": {"card": {"resolvedValue": {"jane_doe": "\\ud800"}}}}}',
         "intentInfo.parameters.card.resolvedValue…"),
        (b'{"pageInfo": {"formInfo": {"parameterInfo": [{"value": {"jane_doe": "\\ud800"}}]}}}',
         "pageInfo.formInfo.parameterInfo[0].value…"),
        (b'{"sessionInfo": {"parameters": {"card": [0, {"jane_doe": "\\ud800"}]}}}',
         "sessionInfo.parameters.card…"),
        (b'{"sessionInfo": {"jane_doe": ["\\ud800"]}}', "sessionInfo…"),
    ],
)  # fmt: skip
def test_lone_surrogate_errors_log_no_key_of_the_callers_data(data, logged_path):
    # The surrogate check walks the JSON before the schema does: it must still hide the keys
    # inside a parameter's value, a payload or an unknown field, as every other error does.
    with pytest.raises(SchemaViolation) as caught:
        parse_body(data)
    assert "jane_doe" in caught.value.path  # the caller is told where
    assert caught.value.logged_path == logged_path
    assert "jane_doe" not in caught.value.logged


def test_error_messages_quote_at_most_a_little_of_the_value():
    long_value = "x" * 5000
    for data in (
        dumps({"intentInfo": {"confidence": long_value}}),
        dumps({"sessionInfo": {"parameters": {long_value: 10**400}}}),
        b'{"%s": 1, "%s": 2}' % (long_value.encode(), long_value.encode()),
    ):
        with pytest.raises(SchemaViolation) as caught:
            parse_body(data)
        assert len(str(caught.value)) < 200, str(caught.value)
        assert "x" * 30 in str(caught.value)  # but enough to recognise it


# --- the generated schema -------------------------------------------------------------------


def test_the_committed_schema_is_what_the_generator_writes():
    from tools.gen_schema import SCHEMA_PATH, render

    assert render() == SCHEMA_PATH.read_text(encoding="utf-8"), "run: python -m tools.gen_schema"


def test_the_validator_imports_neither_protobuf_nor_the_cx_types():
    # ("google.cloud" itself may be in sys.modules from the namespace .pth files at startup.)
    code = (
        "import sys, fulfillment._validate; "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'proto' "
        "or m.startswith(('google.protobuf', 'google.cloud.dialogflowcx', 'google._upb'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


# --- properties: the same verdict as the proto parser ---------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)

# Placeholders for JSON text json.dumps cannot write; swapped in after dumping.
_RAW = {
    "\x00raw:1e400": b"1e400",
    "\x00raw:-1e400": b"-1e400",
    "\x00raw:NaN": b"NaN",
    "\x00raw:Infinity": b"Infinity",
    "\x00raw:bigint": b"1" + b"0" * 400,
}


def dumps_with_raw(body):
    data = dumps(body)
    for placeholder, raw in _RAW.items():
        data = data.replace(json.dumps(placeholder).encode(), raw)
    return data


def _all_field_names():
    names = set()

    def walk(message, seen):
        if message.full_name in seen:
            return
        seen.add(message.full_name)
        for field in message.fields:
            names.update((field.name, field.json_name))
            if field.message_type is not None:
                walk(field.message_type, seen)

    walk(ROOT, set())
    return sorted(names)


FIELD_NAMES = _all_field_names()


def _oneof_families():
    """The JSON and proto names of each oneof's members, for making conflicts."""
    families = []

    def walk(message, seen):
        if message.full_name in seen:
            return
        seen.add(message.full_name)
        families.extend(
            sorted({name for f in oneof.fields for name in (f.name, f.json_name)}) for oneof in message.oneofs
        )
        for field in message.fields:
            if field.message_type is not None:
                walk(field.message_type, seen)

    walk(ROOT, set())
    return families


ONEOF_FAMILIES = _oneof_families()

ODD_VALUES = st.one_of(
    _SCALARS,
    st.sampled_from(
        [
            *_RAW,
            2**31,
            -(2**31) - 1,
            2**31 - 1,
            10**39,
            340282356779733661637539395458142568447,
            1e39,
            3.4028235e38,
            -3.5e38,
            1.5,
            "NaN",
            "nan",
            "Infinity",
            "-Infinity",
            "inf",
            " 1.5 ",
            "1_0",
            "1e39",
            "3.4028235e38",
            "0x10",
            "",
            "FILLED",
            "VALID",
            "ENTRY_PROMPT",
            " 2 ",
            "2147483648",
            "-1",
            "1.0",
            "abc=",
            "ab",
            "a",
            "-_-_",
            "a=b",
            "tag",
            "text",
            "[a.b]",
            "[x]\n",
            "\ud800",
            [],
            ["x"],
            ["tag"],
            ["[a]"],
            {},
            {"[a.b]": 1},
        ]
    ),
    st.lists(_SCALARS, max_size=3),
    # A message given as a list of names, or a string, is read as field names by json_format.
    st.lists(st.sampled_from([*FIELD_NAMES, "[a]", "x"]), max_size=2),
    st.text(alphabet="abtxe[]", max_size=4),
    st.dictionaries(st.sampled_from(FIELD_NAMES), _SCALARS, max_size=2),
    JSON_VALUES,
)


@cache
def message_strategy(message):
    """Valid JSON for ``message``: a random subset of its fields, at most one per oneof."""
    optional = {}
    oneof_choices = []
    for field in message.fields:
        if field.containing_oneof is None:
            optional[field.json_name] = field_strategy(field)
    for oneof in message.oneofs:
        members = [st.builds(lambda v, n=f.json_name: {n: v}, field_strategy(f)) for f in oneof.fields]
        oneof_choices.append(st.one_of(st.builds(dict), *members))
    base = st.fixed_dictionaries({}, optional=optional)
    return st.tuples(base, *oneof_choices).map(
        lambda parts: {k: v for part in parts for k, v in part.items()}
    )


def field_strategy(field):
    if _is_map(field):
        value_field = field.message_type.fields_by_name["value"]
        return st.dictionaries(st.text(max_size=5), single_value_strategy(value_field), max_size=3)
    if field.is_repeated:
        return st.lists(single_value_strategy(field), max_size=3)
    return single_value_strategy(field)


def single_value_strategy(field):
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return st.text(max_size=8)
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=6).map(lambda b: base64.b64encode(b).decode())
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_FLOAT:
        return st.floats(width=32, allow_nan=False, allow_infinity=False)
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == FieldDescriptor.TYPE_ENUM:
        return st.sampled_from([value.name for value in field.enum_type.values])
    full_name = field.message_type.full_name
    if full_name == "google.protobuf.Struct":
        return st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3)
    if full_name == "google.protobuf.Value":
        return JSON_VALUES
    return st.deferred(lambda: message_strategy(field.message_type))


VALID_BODIES = message_strategy(ROOT)


def _positions(node):
    """Every (container, key) slot in ``node``, depth first."""
    slots = []
    stack = [node]
    while stack:
        container = stack.pop()
        keys = list(container) if isinstance(container, dict) else range(len(container))
        for key in keys:
            slots.append((container, key))
            if isinstance(container[key], (dict, list)):
                stack.append(container[key])
    return slots


def _snake(name):
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _deep(depth, use_lists):
    value = 1
    for _ in range(depth):
        value = [value] if use_lists else {"k": value}
    return value


MUTATIONS = ("replace", "null", "rename", "both_spellings", "add_field", "deep", "oneof_conflict")


def mutate(data, body):
    for _ in range(data.draw(st.integers(0, 3), label="mutations")):
        slots = _positions(body)
        mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
        if mutation == "add_field" or not slots:
            containers = [body] + [c[k] for c, k in slots if isinstance(c[k], dict)]
            target = data.draw(st.sampled_from(containers), label="into")
            name = data.draw(st.sampled_from([*FIELD_NAMES, "[a.b]", "unknownField"]), label="name")
            target[name] = data.draw(st.one_of(ODD_VALUES, message_strategy(ROOT)), label="value")
            continue
        if mutation == "oneof_conflict":
            choices = [
                (c[k], present, family)
                for c, k in slots
                if isinstance(c[k], dict)
                for family in ONEOF_FAMILIES
                for present in c[k]
                if present in family
            ]
            choices += [
                (body, present, family) for family in ONEOF_FAMILIES for present in body if present in family
            ]
            if choices:
                target, present, family = data.draw(st.sampled_from(choices), label="oneof")
                other = data.draw(
                    st.sampled_from([name for name in family if name != present]), label="member"
                )
                target[other] = data.draw(st.one_of(st.just("x"), st.builds(dict), ODD_VALUES), label="value")
            continue
        container, key = data.draw(st.sampled_from(slots), label="slot")
        if mutation == "replace":
            container[key] = data.draw(ODD_VALUES, label="value")
        elif mutation == "null":
            container[key] = None
        elif mutation == "deep":
            # Each object or list level inside a Struct or Value costs protobuf two levels; aim
            # around where the 100-level limit falls for most slots.
            depth = data.draw(st.one_of(st.integers(40, 52), st.integers(1, 110)), label="depth")
            container[key] = _deep(depth, data.draw(st.booleans(), label="lists"))
        elif isinstance(container, dict) and _snake(key) != key:
            value = container.pop(key) if mutation == "rename" else container[key]
            if mutation == "both_spellings" and data.draw(st.booleans(), label="new value"):
                value = data.draw(st.one_of(ODD_VALUES, st.just(value)), label="value")
            container[_snake(key)] = value
    return body


@PROPERTY
@given(st.data())
def test_valid_bodies_are_accepted(data):
    body = data.draw(VALID_BODIES, label="body")
    encoded = dumps(body)
    assert proto_accepts(encoded)
    assert parse_body(encoded) == body
    assert_same_verdict(encoded)


@PROPERTY
@given(st.data())
def test_mutated_bodies_get_the_proto_parsers_verdict(data):
    body = mutate(data, data.draw(VALID_BODIES, label="body"))
    assert_same_verdict(dumps_with_raw(body))


@PROPERTY
@given(st.one_of(ODD_VALUES, st.text(), st.integers(), st.floats()))
def test_any_value_in_a_float_an_enum_a_bytes_or_a_message_field(value):
    for body in (
        {"intentInfo": {"confidence": value}},
        {"pageInfo": {"formInfo": {"parameterInfo": [{"state": value}]}}},
        {"messages": [{"mixedAudio": {"segments": [{"audio": value}]}}]},
        {"messages": [{"responseType": value}, {"endInteraction": value}]},
        {"fulfillmentInfo": value, "sessionInfo": {"parameters": {"p": value}}},
        {"intentInfo": {"parameters": {"p": value}}},
    ):
        assert_same_verdict(dumps_with_raw(body))


@PROPERTY
@given(JSON_VALUES)
def test_any_json_value_gets_the_proto_parsers_verdict(value):
    assert_same_verdict(dumps(value))


@PROPERTY
@given(st.dictionaries(st.sampled_from(FIELD_NAMES), JSON_VALUES, max_size=4))
def test_any_json_under_known_names_gets_the_proto_parsers_verdict(body):
    assert_same_verdict(dumps(body))


@PROPERTY
@given(st.binary(max_size=64))
def test_any_bytes_give_a_body_or_a_schema_violation(data):
    assert_same_verdict(data)


@PROPERTY
@given(st.text(alphabet="[]ab._\n-é0", max_size=8))
def test_extension_names_are_recognised_as_json_format_does(name):
    from google.protobuf.json_format import _VALID_EXTENSION_NAME

    assert _validate._is_extension_name(name) == bool(_VALID_EXTENSION_NAME.match(name))


def test_the_logged_path_hides_the_keys_inside_free_form_values():
    nested = 1
    for _ in range(120):
        nested = [nested]
    with pytest.raises(SchemaViolation) as caught:
        parse_body(json.dumps({"payload": {"jane_doe_1970": nested}}).encode())
    assert caught.value.path.startswith("payload.jane_doe_1970[0][0]")
    assert caught.value.logged_path == "payload…"
    assert caught.value.logged == "payload…: " + caught.value.message

    # A field of the schema is no data: its path is logged whole.
    with pytest.raises(SchemaViolation) as caught:
        parse_body(b'{"sessionInfo": {"session": 7}}')
    assert caught.value.logged == str(caught.value) == "sessionInfo.session: expected a string, got a number"
