"""The reusable compact encoder writes exactly what json.dumps writes."""

import json
import math

import pytest

from fulfillment._json import compact_encoder

VALUES = [
    {},
    [],
    "",
    "plain",
    'é ü 日本 \u2028 \x00 \t " \\ / 😀',
    0,
    -1,
    2**70,
    1.5,
    -0.0,
    1e300,
    3.4028234663852886e38,
    True,
    False,
    None,
    {"a": {"b": [1, {"c": None}]}, "d": "e"},
    {1: "int key", 2.5: "float key", False: "bool key", None: "none key"},
    [[[]], [{}], ("tuple", "too")],
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_same_text_as_json_dumps(value):
    assert compact_encoder()(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_same_text_as_json_dumps_with_ensure_ascii(value):
    expected = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    assert compact_encoder(ensure_ascii=True)(value) == expected


@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_non_finite_floats_are_written_as_proto3_json_strings_not_as_bare_words(ensure_ascii):
    dumps = compact_encoder(ensure_ascii=ensure_ascii)
    value = {"a": [math.inf, -math.inf, math.nan, 1.5], "b": (math.inf,), "c": {"d": -math.inf}, "e": "ü"}
    text = dumps(value)
    assert json.loads(text, parse_constant=lambda word: pytest.fail(f"{word} is not JSON")) == {
        "a": ["Infinity", "-Infinity", "NaN", 1.5],
        "b": ["Infinity"],
        "c": {"d": "-Infinity"},
        "e": "ü",
    }
    assert value["a"][0] == math.inf  # the caller's object is left as it was
    assert dumps({"fine": 1.0}) == '{"fine":1.0}'


def test_default_is_used_for_other_types():
    assert compact_encoder(default=str)({"when": object.__new__(_Stamp)}) == '{"when":"stamp"}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        compact_encoder()({"when": object.__new__(_Stamp)})


class _Stamp:
    def __str__(self):
        return "stamp"
