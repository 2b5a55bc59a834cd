"""Strict, fast validation of an incoming WebhookRequest body.

"Valid" means exactly: the body is strict JSON (below) and protobuf's own JSON parser,
``json_format.Parse(text, WebhookRequest()._pb, ignore_unknown_fields=True)``, accepts it.
Protobuf is not imported here (it is a test-only dependency): this module walks the parsed JSON
against ``fulfillment._schema``, generated from the proto descriptors by ``tools/gen_schema.py``,
and applies the rules of ``google/protobuf/json_format.py`` (protobuf 7.x, upb backend) one by
one. Each rule below names the json_format behaviour it mirrors; the odd ones are mirrored
anyway, because the contract is "whatever Dialogflow's own parser accepts" and
``tests/test_validate.py`` checks that equivalence on generated bodies.

Stricter than json_format, on purpose (the JSON layer, before any schema rule):

* the body must be UTF-8 without a byte order mark;
* ``NaN``, ``Infinity`` and ``-Infinity`` literals are rejected (Python's json accepts them,
  RFC 8259 does not; proto3 JSON spells them as the strings "NaN", "Infinity", "-Infinity");
* lone surrogate escapes (``"\\ud800"``) are rejected anywhere, also in ignored fields;
* the top level must be an object (json_format treats a top-level string or list as a list of
  field names and accepts ``[]`` or ``"abc"`` as an empty message).

What ``parse_body`` returns is the parsed dict, checked and brought into one spelling:

* proto (snake_case) field names become JSON (lowerCamelCase) names, in message fields only
  (never inside Struct, Value or map values); when both spellings of one field are present the
  later one wins, and two spellings of a message field are merged, as the proto parser does;
* unknown fields are kept as they came, unvalidated (nobody reads them);
* ``null`` is kept: for a Value field it is JSON null, anywhere else it means "not set";
* values json_format accepts in a non-canonical form are rewritten to the canonical proto3 JSON
  form, so readers see one type per field: a message given as a string or list (which the proto
  parser takes as an empty message) becomes ``{}``; a float field given as a string, integer or
  bool becomes a float, or "NaN" / "Infinity" / "-Infinity", clamped to float32 like the proto;
  an enum given as a number becomes its name (an unknown number stays a number); an enum string
  the proto parser ignores (unknown name) is removed.

The common case (a valid camelCase body) copies nothing and allocates almost nothing.
"""

# No regular expressions and no binascii at import time: compiling a pattern costs more than
# this whole module, and every use of them would be on a rare path.
import json
import threading

from fulfillment._schema import ROOT

__all__ = ["MAX_DEPTH", "SchemaViolation", "parse_body"]

# json_format.Parse(max_recursion_depth=100): every message the parser enters counts one level:
# the WebhookRequest itself, each nested message, and each Struct, Value and ListValue (so one
# level of JSON nesting inside a Struct costs two). Entering level 101 fails. A null field is
# not entered, but a null inside a Struct or list is (it is a Value).
MAX_DEPTH = 100

# type_checkers._FLOAT_MAX: a JSON *number* above this is rejected for a float (32-bit) field.
_FLOAT32_MAX = 3.4028234663852886e38
# A string or integer is not range-checked by json_format: the upb backend rounds it to float32,
# and everything at or above the midpoint between FLT_MAX and 2**128 rounds to infinity.
_FLOAT32_ROUNDS_TO_INF = 3.4028235677973366e38
_INF = float("inf")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# The characters between the brackets of an extension name (json_format._VALID_EXTENSION_NAME).
_EXTENSION_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._")
# base64.urlsafe_b64decode, which json_format uses for bytes fields, maps "-_" to "+/" and then
# decodes leniently (characters outside the alphabet are skipped).
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
# Keys shown as ".key" in an error path; anything else is shown quoted, as '["a key"]'.
_PLAIN_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@$-")

# Returned by a value check when json_format ignores the value (an unknown enum name): the
# field, list element or map entry is then left out, as it is left unset in the proto.
_DROP = object()

# The JSON types a google.protobuf.Value holds as they are, with nothing to check (an integer
# is checked for its range, a dict or a list member by member). Every check of a Value tests
# for these first: most session parameters and payload members are one of them.
_VALID_VALUE_SCALARS = (str, float, bool)


class SchemaViolation(ValueError):
    """Raised for any unacceptable body.

    ``path`` locates the problem as a JSON path over the keys as sent ('sessionInfo.parameters',
    'messages[2].text.text[0]'; '' for the whole body). ``str(err)`` is a short message, safe to
    return to the caller: it quotes at most ~40 characters of any value.
    """

    # The decoded body when it was JSON but broke a schema rule: the router reads the refused
    # call's identifiers from it rather than decoding up to MAX_REQUEST_BYTES again.
    decoded = None

    def __init__(self, message, path="", logged_path=None):
        self.path = path
        self.message = message
        # For logs: keys inside a free-form value (a parameter's value, a payload) are data
        # the caller gave, not field names, and read as "…" here.
        self.logged_path = path if logged_path is None else logged_path
        super().__init__(f"{path}: {message}" if path else message)

    @property
    def logged(self):
        """``str(self)`` with the keys of free-form values left out."""
        return f"{self.logged_path}: {self.message}" if self.logged_path else self.message


class _Invalid(Exception):
    """A violation on its way up the walk; each level adds its key, innermost first, so the
    path costs nothing until something is wrong."""

    def __init__(self, message, *parts):
        super().__init__(message)
        self.message = message
        self.parts = list(parts)
        # How many of ``parts`` (innermost first) are keys inside a Struct or Value.
        self.free_form = 0


# --- JSON layer -----------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    def __init__(self, key):
        super().__init__(key)
        self.key = key


class _NonFiniteLiteral(ValueError):
    def __init__(self, literal):
        super().__init__(literal)
        self.literal = literal


def object_without_duplicate_keys(pairs):
    """``object_pairs_hook`` for ``json``: the object as a dict, or ``ValueError`` naming a key
    it holds twice. json_format loads with a duplicate-key check too (_DuplicateChecker), and
    other readers keep the first value where Python keeps the last."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _reject_literal(literal):
    raise _NonFiniteLiteral(literal)


# Built once: json.loads(s, **options) would construct a new decoder on every call.
_DECODER = json.JSONDecoder(object_pairs_hook=object_without_duplicate_keys, parse_constant=_reject_literal)
_SCAN = _DECODER.scan_once
_WHITESPACE = json.decoder.WHITESPACE.match


class _KeyCountingScanner(threading.local):
    """Per thread (calls run on functions-framework's threads): a scanner that builds dicts as
    plain ``json`` does and notes how many keys each holds, for ``_decode``'s count."""

    def __init__(self):
        self.sizes = sizes = []
        note = sizes.append

        def counted(obj):
            note(len(obj))
            return obj

        self.scan = json.JSONDecoder(object_hook=counted, parse_constant=_reject_literal).scan_once


_KEY_COUNTING = _KeyCountingScanner()


def _decode(text):
    """``_DECODER.decode(text)``: the same value and the same errors, for less.

    The duplicate-key check is what costs most in decoding (a tuple per key, then
    ``dict(pairs)`` in Python), so here it is proven needless first, by counting colons:
    decoding ``examples/validate-order-id.json`` takes 6.2 µs instead of 7.1,
    ``check-inventory.json`` 9.2 instead of 11.4 (timeit, best of 9).

    Each member of an object is followed by exactly one colon in the text, and every other
    colon is inside a string. A duplicate makes its object hold one key fewer than it has
    members, so when the objects built hold as many keys as the text has colons, there is
    none. Where strings hold colons, those of the decoded strings are added to the count;
    that is exact unless one was written as an escape (``\\u003a``, which the text's count
    misses), and then the strict decoder runs. Any error also comes from the strict decoder,
    so which error wins (a duplicate before a later syntax error) is as it always was.
    """
    counting = _KEY_COUNTING
    sizes = counting.sizes
    sizes.clear()
    try:
        body = _scan_all(counting.scan, text)
    except (ValueError, RecursionError):
        return _scan_all(_SCAN, text)  # raises the error the strict decoder raises
    colons = text.count(":")
    keys = sum(sizes)
    if keys != colons and ("\\u003" in text or keys + _colons_in_strings(body) != colons):
        _scan_all(_SCAN, text)  # raises _DuplicateKey if there is one
    return body


def _scan_all(scan, text):
    """``json.JSONDecoder.decode`` with ``scan``, calling the scanner directly: the two frames
    and two whitespace matches around it were ~3k of the ~64k instructions that decoding an
    850-byte body costs (cachegrind)."""
    start = 0 if text[:1] == "{" else _WHITESPACE(text, 0).end()
    try:
        body, end = scan(text, start)
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None
    if end != len(text):
        end = _WHITESPACE(text, end).end()
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    return body


def _colons_in_strings(body):
    """How many colons the keys and strings of decoded JSON hold, all told."""
    count = 0
    stack = [body]
    while stack:
        node = stack.pop()
        if node.__class__ is dict:
            for key in node:
                count += key.count(":")
            node = node.values()
        for value in node:
            if value.__class__ is str:
                count += value.count(":")
            elif value.__class__ is dict or value.__class__ is list:
                stack.append(value)
    return count


def parse_body(data: bytes) -> dict:
    """Decode and check a request body; returns the body as a dict with every proto field
    name in its JSON (lowerCamelCase) spelling. Raises SchemaViolation, and nothing else, for
    any unacceptable ``data``."""
    if data[:3] == b"\xef\xbb\xbf":
        raise SchemaViolation("the body starts with a byte order mark; send plain UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SchemaViolation(f"the body is not valid UTF-8 (byte {err.start})") from None
    try:
        body = _decode(text)
    except _DuplicateKey as err:
        raise SchemaViolation(f"duplicate key {_quote(err.key)} in a JSON object") from None
    except _NonFiniteLiteral as err:
        raise SchemaViolation(
            f'{err.literal} is not JSON; a float field takes the string "{err.literal}"'
        ) from None
    except json.JSONDecodeError as err:
        raise SchemaViolation(f"malformed JSON: {err.msg} (line {err.lineno} column {err.colno})") from None
    except RecursionError:
        raise SchemaViolation("the JSON is nested too deeply") from None
    except ValueError as err:
        # The interpreter's limit on integer digits (int_max_str_digits) lands here.
        raise SchemaViolation(f"malformed JSON: {_clip(str(err), 80)}") from None
    if body.__class__ is not dict:
        raise SchemaViolation(f"the body must be a JSON object, not {_json_type(body)}")
    # Lone surrogates need a "\ud..." escape in the raw text; checking for a backslash first
    # keeps the common case at one memchr.
    if b"\\" in data and (b"\\ud" in data or b"\\uD" in data):
        try:
            _reject_lone_surrogates(body)
        except SchemaViolation as violation:
            violation.decoded = body
            raise
    try:
        _check_message(body, ROOT, 1)
    except _Invalid as err:
        violation = SchemaViolation(
            err.message,
            _render_path(err.parts),
            _render_path(err.parts[err.free_form :], hidden=err.free_form),
        )
        violation.decoded = body
        raise violation from None
    except RecursionError:
        # Unreachable with MAX_DEPTH far below the interpreter limit; a 400 beats a 500 anyway.
        raise SchemaViolation("the body is nested too deeply") from None
    return body


def _reject_lone_surrogates(body):
    """Raise for the first string or key holding a lone surrogate (iteratively: the JSON may
    be nested nearly as deep as the interpreter's recursion limit)."""
    stack = [(body, ())]
    while stack:
        node, parts = stack.pop()
        if node.__class__ is dict:
            items = node.items()
        elif node.__class__ is list:
            items = enumerate(node)
        else:
            continue
        for key, value in items:
            if key.__class__ is str and _has_lone_surrogate(key):
                raise _lone_surrogate("lone surrogate escape in a key", (key, *parts))
            if value.__class__ is str:
                if _has_lone_surrogate(value):
                    raise _lone_surrogate("lone surrogate escape in a string", (key, *parts))
            elif value.__class__ is dict or value.__class__ is list:
                stack.append((value, (key, *parts)))


def _lone_surrogate(message, parts):
    """The violation for a lone surrogate at ``parts`` (innermost first). This walk knows no
    schema, so the logged path is cut where the schema's fields end: past that (in a
    parameter's value, a payload, an unknown field) the keys are the caller's data."""
    shown = 0
    kind, sub = "message", ROOT
    for part in reversed(parts):
        if kind == "message" and part.__class__ is str and part in sub:
            kind, sub = sub[part][:2]
        elif (kind == "repeated" and part.__class__ is int) or (kind == "map" and part.__class__ is str):
            kind, sub = sub  # an element, or a map's value: its key is a name (a parameter's)
        else:
            break
        shown += 1
    hidden = len(parts) - shown
    return SchemaViolation(message, _render_path(parts), _render_path(parts[hidden:], hidden=hidden))


# --- schema walk ----------------------------------------------------------------------------


def _check_message(obj, fields, depth):
    """Check the dict ``obj`` as the message ``fields`` at recursion depth ``depth``, in place.

    Mirrors json_format._Parser._ConvertFieldValuePair. The caller has counted ``depth``.
    """
    oneofs = None
    renamed = False
    dropped = None
    for key, value in obj.items():
        spec = fields.get(key)
        if spec is None:
            if key[:1] == "[" and _is_extension_name(key):
                raise _Invalid("extension fields are not allowed in this message", key)
            continue  # unknown field: ignored (ignore_unknown_fields=True)
        kind, sub, oneof, rename_to = spec
        if rename_to is not None:
            renamed = True
        if value is None:
            # null clears the field (a Value field becomes JSON null); it does not count as
            # the oneof's member, so {"text": "hi", "transcript": null} is fine.
            continue
        if oneof is not None:
            if oneofs is None:
                oneofs = {oneof: key}
            elif oneof in oneofs:
                raise _Invalid(f"{key} and {oneofs[oneof]} cannot both be set (oneof {oneof})", key)
            else:
                oneofs[oneof] = key
        if kind == "string":
            if value.__class__ is not str:
                raise _Invalid(f"expected a string, got {_json_type(value)}", key)
            continue
        try:
            if kind == "message" and value.__class__ is dict:
                if depth >= MAX_DEPTH:
                    raise _too_deep()
                _check_message(value, sub, depth + 1)
                continue
            # A bool, an enum by a name it has, a Value holding a string, a float or a bool, and
            # a float within float32 range (never NaN) are valid as they are: decided here rather
            # than in calls to _check_value_of_kind (a form parameter has four such fields, an
            # intent parameter one, intentInfo its confidence).
            if kind == "bool" and value.__class__ is bool:
                continue
            if kind == "enum" and value.__class__ is str and value in sub[0]:
                continue
            if kind == "value" and depth < MAX_DEPTH and value.__class__ in _VALID_VALUE_SCALARS:
                continue
            if kind == "float" and value.__class__ is float and -_FLOAT32_MAX <= value <= _FLOAT32_MAX:
                continue
            if kind == "repeated":
                checked = _check_list(value, sub, depth)
            elif kind == "map":
                checked = _check_map(value, sub, depth)
            else:
                checked = _check_value_of_kind(kind, sub, value, depth)
        except _Invalid as err:
            err.parts.append(key)
            raise
        if checked is not value:
            if checked is _DROP:
                dropped = [key] if dropped is None else [*dropped, key]
            else:
                obj[key] = checked  # same key: safe while iterating
    if dropped is not None:
        for key in dropped:
            del obj[key]
    if renamed:
        _rename_to_json_names(obj, fields)


def _check_value_of_kind(kind, sub, value, depth):
    """Check one non-null value of a field (or one list element or map value) of ``kind`` in a
    message at ``depth``. Returns ``value``, its canonical replacement, or ``_DROP``. A list or
    map is a whole field, never one value of one: _check_message checks those itself."""
    cls = value.__class__
    if kind == "string":
        # A str is required: json_format's surrogate check (re.search) raises TypeError otherwise.
        if cls is str:
            return value
        raise _Invalid(f"expected a string, got {_json_type(value)}")
    if kind == "message":
        if depth >= MAX_DEPTH:
            raise _too_deep()
        if cls is dict:
            _check_message(value, sub, depth + 1)
            return value
        return _non_object_message(value, sub)
    if kind == "bool":
        # _ConvertBool: only true/false, never "true" or 1.
        if cls is bool:
            return value
        raise _Invalid(f"expected true or false, got {_json_type(value)}")
    if kind == "float" or kind == "double":
        return _check_float(value, kind == "float")
    if kind == "enum":
        return _check_enum(value, sub)
    if kind == "struct":
        if depth >= MAX_DEPTH:
            raise _too_deep()
        if cls is not dict:
            raise _Invalid(f"expected an object, got {_json_type(value)}")
        try:
            _check_struct(value, depth + 1)
        except _Invalid as err:
            err.free_form = len(err.parts)
            raise
        return value
    if kind == "value":
        if depth >= MAX_DEPTH:
            raise _too_deep()
        try:
            _check_value(value, depth + 1)
        except _Invalid as err:
            err.free_form = len(err.parts)
            raise
        return value
    if kind == "bytes":
        return _check_bytes(value)
    raise AssertionError(f"unknown field kind {kind!r} in fulfillment._schema")


def _check_list(value, element, depth):
    # A repeated field must be a JSON list; null elements are rejected (only a repeated Value
    # may hold null, as JSON null); an ignored enum name is left out.
    if value.__class__ is not list:
        raise _Invalid(f"expected a list, got {_json_type(value)}")
    kind, sub = element
    if kind == "string":
        for index, item in enumerate(value):
            if item.__class__ is not str:
                raise _Invalid(f"expected a string, got {_json_type(item)}", index)
        return value
    changed = None
    for index, item in enumerate(value):
        try:
            if item is None:
                checked = _check_null_element(kind, depth)
            elif kind == "message" and item.__class__ is dict:
                if depth >= MAX_DEPTH:
                    raise _too_deep()
                _check_message(item, sub, depth + 1)
                checked = item
            else:
                checked = _check_value_of_kind(kind, sub, item, depth)
        except _Invalid as err:
            err.parts.append(index)
            raise
        if checked is not item:
            if changed is None:
                changed = value[:index]
            if checked is not _DROP:
                changed.append(checked)
        elif changed is not None:
            changed.append(item)
    return value if changed is None else changed


def _check_map(value, entry, depth):
    # _ConvertMapFieldValue: a map is a JSON object; keys are strings already; each value is
    # converted like a field of the entry's value type, where null is no "clear": it is
    # rejected (a message value iterates None, a scalar fails conversion) except for a Value.
    if value.__class__ is not dict:
        raise _Invalid(f"expected an object, got {_json_type(value)}")
    kind, sub = entry
    # A Value holding a string, a float or a bool (most session parameters) is valid as it
    # is, unless it is one level too deep: decided here, without two calls per parameter.
    scalar_is_valid = kind == "value" and depth < MAX_DEPTH
    dropped = None
    for key, item in value.items():
        if scalar_is_valid and item.__class__ in _VALID_VALUE_SCALARS:
            continue
        try:
            if item is None:
                checked = _check_null_element(kind, depth)
            elif kind == "message" and item.__class__ is dict:
                if depth >= MAX_DEPTH:
                    raise _too_deep()
                _check_message(item, sub, depth + 1)
                checked = item
            else:
                checked = _check_value_of_kind(kind, sub, item, depth)
        except _Invalid as err:
            err.parts.append(key)
            raise
        if checked is not item:
            if checked is _DROP:
                dropped = [key] if dropped is None else [*dropped, key]
            else:
                value[key] = checked
    if dropped is not None:
        for key in dropped:
            del value[key]
    return value


def _check_null_element(kind, depth):
    if kind != "value":
        raise _Invalid("null is not allowed here")
    # A null Value is still a message the parser enters.
    if depth >= MAX_DEPTH:
        raise _too_deep()
    return None


def _non_object_message(value, fields):
    """A message given as something other than an object.

    json_format iterates the value as if it were the object's keys (``for name in js``), so a
    string is taken as a sequence of one-character field names and a list as a list of names.
    Names it does not know are skipped, which makes ``"abc"``, ``""``, ``[]`` and
    ``["x", "y"]`` an *empty message*; a known name fails (it then indexes the string or list by
    that name), as does anything that is not a string. Mirrored, and normalized to ``{}``.
    """
    cls = value.__class__
    if cls is str:
        if any(len(name) == 1 and name in value for name in fields):
            raise _Invalid("expected an object, got a string")
        return {}
    if cls is list:
        for item in value:
            if item.__class__ is not str or item in fields or _is_extension_name(item):
                raise _Invalid("expected an object, got a list")
        return {}
    raise _Invalid(f"expected an object, got {_json_type(value)}")


def _check_float(value, is_float32):
    """_ConvertFloat, for a float (32-bit) or double field. Returns the canonical value: a float,
    or "NaN" / "Infinity" / "-Infinity"."""
    cls = value.__class__
    if cls is float:
        # A JSON number must be finite and, for float32, within range: json_format checks these
        # for Python floats only (never for ints or strings, oddly).
        if value != value or value == _INF or value == -_INF:
            raise _Invalid('out of range; use the strings "NaN", "Infinity" or "-Infinity"')
        if is_float32 and (value > _FLOAT32_MAX or value < -_FLOAT32_MAX):
            raise _Invalid(f"{value!r} is out of range for a 32-bit float")
        return value
    if cls is int:
        try:
            number = float(value)
        except OverflowError:
            raise _Invalid("number too large") from None
    elif cls is bool:
        # float(True) == 1.0: json_format accepts a bool for a float field.
        number = float(value)
    elif cls is str:
        # Any spelling Python's float() takes ("1e3", " 2.5 ", "1_000", "inf", "NAN"), except
        # exactly "nan", which json_format rejects by name. Never OverflowError: "1e999" is inf.
        if value == "nan":
            raise _Invalid('use "NaN", not "nan"')
        try:
            number = float(value)
        except ValueError:
            raise _Invalid(f"not a number: {_quote(value)}") from None
    else:
        raise _Invalid(f"expected a number, got {_json_type(value)}")
    return _canonical_float(number, is_float32)


def _canonical_float(number, is_float32):
    if number != number:
        return "NaN"
    if is_float32:
        magnitude = abs(number)
        if magnitude >= _FLOAT32_ROUNDS_TO_INF:
            number = _INF if number > 0 else -_INF
        elif magnitude > _FLOAT32_MAX:
            number = _FLOAT32_MAX if number > 0 else -_FLOAT32_MAX
    if number == _INF:
        return "Infinity"
    if number == -_INF:
        return "-Infinity"
    return number


def _check_enum(value, enum):
    """_ConvertScalarFieldValue for an enum, with ignore_unknown_fields=True.

    A known name is kept. Anything else goes through int(): a string int() cannot read (an
    unknown name such as "VALID") is *ignored* by json_format rather than rejected, so it is
    dropped; a number, bool, or numeric string (int() reads " 2 ", "1_0", even "٣") names the
    value with that number (modulo 2**32, see below). A number the enum lacks is kept as a
    number for an open (proto3) enum if it fits int32, and rejected otherwise.
    """
    by_name, by_number, closed = enum
    cls = value.__class__
    if cls is str:
        if value in by_name:
            return value
        try:
            number = int(value)
        except ValueError:
            return _DROP
    elif cls is dict or cls is list:
        # json_format looks the value up in a dict first: unhashable, TypeError.
        raise _Invalid(f"expected an enum name or number, got {_json_type(value)}")
    else:
        try:
            number = int(value)  # int(1.9) == 1 and int(True) == 1, as in json_format
        except OverflowError:
            raise _Invalid("enum number out of range") from None
        except ValueError:  # NaN; unreachable while NaN literals are refused
            return _DROP
    # json_format looks the number up in the enum's values_by_number, and upb's map truncates
    # an int64 key to int32 first: 2**32 + 1 finds the value numbered 1 (and is stored as 1),
    # while a key outside int64 finds nothing. Odd; mirrored.
    name = by_number.get((number + 2**31) % 2**32 - 2**31) if _INT64_MIN <= number <= _INT64_MAX else None
    if name is not None:
        return name
    if closed or not _INT32_MIN <= number <= _INT32_MAX:
        raise _Invalid(f"enum number {_clip(str(number), 40)} is out of range")
    return number


def _check_bytes(value):
    # json_format: value.encode("utf-8"), pad with 1-4 "=", base64.urlsafe_b64decode (lenient:
    # characters outside the alphabet are skipped). Only the padding check can fail.
    if value.__class__ is not str:
        raise _Invalid(f"expected a base64 string, got {_json_type(value)}")
    import binascii  # only bytes field: MixedAudio.Segment.audio, output-only; rare

    try:
        encoded = value.encode("utf-8")
        binascii.a2b_base64((encoded + b"=" * (4 - len(encoded) % 4)).translate(_URLSAFE_TO_STANDARD))
    except (binascii.Error, UnicodeEncodeError):
        raise _Invalid("not valid base64") from None
    return value


def _check_struct(obj, depth):
    """A google.protobuf.Struct (a dict) at ``depth``; each member is a Value one level down."""
    if not obj:
        return
    if depth >= MAX_DEPTH:
        raise _too_deep()
    depth += 1
    for key, member in obj.items():
        if member is None or member.__class__ in _VALID_VALUE_SCALARS:
            continue
        try:
            _check_value(member, depth)
        except _Invalid as err:
            err.parts.append(key)
            raise


def _check_value(value, depth):
    """A google.protobuf.Value at ``depth``: any JSON. A dict is a Struct and a list a ListValue,
    each one level further down, their members another level down."""
    cls = value.__class__
    if cls is dict:
        if depth >= MAX_DEPTH:
            raise _too_deep()
        _check_struct(value, depth + 1)
    elif cls is list:
        if not value:
            if depth >= MAX_DEPTH:
                raise _too_deep()
            return
        if depth + 1 >= MAX_DEPTH:
            raise _too_deep()
        for index, item in enumerate(value):
            if item is None or item.__class__ in _VALID_VALUE_SCALARS:
                continue
            try:
                _check_value(item, depth + 2)
            except _Invalid as err:
                err.parts.append(index)
                raise
    elif cls is int:
        # number_value = value converts to a double; past ~1.8e308 that overflows. (A float is
        # stored as is, even inf from "1e999": the parser accepts it.)
        try:
            float(value)
        except OverflowError:
            raise _Invalid("number too large") from None


def _is_extension_name(name):
    """json_format._VALID_EXTENSION_NAME.match(name), i.e. r"\\[[a-zA-Z0-9\\._]*\\]$": "[a.b]"
    names an extension, which a message without extensions rejects even with
    ignore_unknown_fields. "$" also matches before one final newline; mirrored."""
    if name[-1:] == "\n":
        name = name[:-1]
    return (
        len(name) >= 2 and name[0] == "[" and name[-1] == "]" and _EXTENSION_NAME_CHARS.issuperset(name[1:-1])
    )


def _has_lone_surrogate(text):
    # json.loads joins a valid escape pair into one code point, so a surrogate code point left
    # in a decoded string came from a lone escape; it is the one thing UTF-8 cannot encode.
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _too_deep():
    return _Invalid(f"nested too deeply (protobuf's limit is {MAX_DEPTH} levels)")


# --- proto names -> JSON names ----------------------------------------------------------------


def _rename_to_json_names(obj, fields):
    """Rewrite proto-name keys of the message ``obj`` to JSON names, in place.

    json_format applies keys in document order, and both spellings of one field may appear (it
    only rejects two members of one oneof): a later scalar, list, map, Struct or Value replaces
    an earlier one (null clears it), and a later message is merged into an earlier one.
    """
    renamed = {}
    for key, value in obj.items():
        spec = fields.get(key)
        name = key if spec is None or spec[3] is None else spec[3]
        if name in renamed and spec is not None:
            earlier = renamed[name]
            if spec[0] == "message" and earlier.__class__ is dict and value.__class__ is dict:
                value = _merge_message(earlier, value, spec[1])
        renamed[name] = value
    obj.clear()
    obj.update(renamed)


def _merge_message(into, other, fields):
    """Merge the checked message ``other`` into ``into`` as proto's MergeFrom would: set fields
    replace (messages merge recursively), and setting a oneof member clears its siblings."""
    for key, value in other.items():
        spec = fields.get(key)
        if spec is None:
            into[key] = value
            continue
        kind, sub, oneof, _ = spec
        if value is not None and oneof is not None:
            for name, other_spec in fields.items():
                if other_spec[2] == oneof and name != key:
                    into.pop(name, None)
        earlier = into.get(key)
        if kind == "message" and earlier.__class__ is dict and value.__class__ is dict:
            _merge_message(earlier, value, sub)
        else:
            into[key] = value
    return into


# --- messages -------------------------------------------------------------------------------


def _json_type(value):
    if value is None:
        return "null"
    cls = value.__class__
    if cls is bool:
        return "a boolean"
    if cls is int or cls is float:
        return "a number"
    if cls is str:
        return "a string"
    if cls is list:
        return "a list"
    if cls is dict:
        return "an object"
    return cls.__name__


def _clip(text, limit):
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quote(text):
    """``text`` clipped and JSON-quoted; ASCII-escaped if it holds a lone surrogate, which could
    not be encoded into the UTF-8 error response."""
    clipped = _clip(text, 40)
    return json.dumps(clipped, ensure_ascii=_has_lone_surrogate(clipped))


def _render_path(parts, hidden=0):
    """``parts`` innermost first -> 'messages[2].text.text[0]'; with ``hidden``, that many more
    inner parts are shown as one '…' ('payload…', 'sessionInfo.parameters.customer…')."""
    path = ""
    for part in reversed(parts):
        if part.__class__ is int:
            path += f"[{part}]"
        elif 0 < len(part) <= 40 and _PLAIN_KEY_CHARS.issuperset(part):
            path += f".{part}" if path else part
        else:
            path += f"[{_quote(part)}]"
    return path + "…" if hidden else path
