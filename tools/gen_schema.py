"""Generate ``fulfillment/_schema.py`` from the protobuf descriptors of the CX WebhookRequest.

    python -m tools.gen_schema            # rewrite fulfillment/_schema.py
    python -m tools.gen_schema --check    # exit 1 if the committed file differs from a fresh one

The run-time validator (``fulfillment/_validate.py``) must not import protobuf, so the shape of
``google.cloud.dialogflow.cx.v3.WebhookRequest`` is written out once as plain dicts and tuples.
This tool needs ``google-cloud-dialogflow-cx`` (a test-only dependency). It refuses to write a
schema the validator could not mirror exactly (integer fields, Any, Timestamp, recursive
messages, ...), so a proto upgrade that brings one of those fails here, loudly, instead of
silently validating the wrong thing.
"""

import argparse
import subprocess
import sys
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "fulfillment" / "_schema.py"

# The package prefix is dropped from generated variable names to keep them readable.
_PACKAGE = "google.cloud.dialogflow.cx.v3."

# Well-known types the JSON parser treats specially, by the kind the validator knows them as.
_WELL_KNOWN_KINDS = {
    "google.protobuf.Struct": "struct",
    "google.protobuf.Value": "value",
}
# Well-known types with a special JSON form the validator does not implement.
_UNSUPPORTED_WELL_KNOWN = {
    "google.protobuf.Any",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
    "google.protobuf.ListValue",
    "google.protobuf.Timestamp",
}

_HEADER = '''\
# GENERATED FILE, DO NOT EDIT. Written by tools/gen_schema.py from the protobuf descriptors of
# google.cloud.dialogflow.cx.v3.WebhookRequest (package google-cloud-dialogflow-cx).
# Regenerate from the repository root with:
#     python -m tools.gen_schema
# tests/test_validate.py regenerates it in memory and fails if this file is stale.
"""Field tables of the CX v3 WebhookRequest, read by ``fulfillment._validate``.

A message is a dict from every key its JSON form may use to a field spec. The keys are the
JSON (lowerCamelCase) names plus the proto (snake_case) names the proto parser also accepts.
A field spec is a tuple ``(kind, sub, oneof, rename_to)``:

* ``kind``: ``"string"``, ``"bytes"``, ``"bool"``, ``"float"`` (32-bit), ``"double"``,
  ``"enum"``, ``"message"``, ``"struct"`` (google.protobuf.Struct), ``"value"``
  (google.protobuf.Value), ``"repeated"`` or ``"map"`` (string keys);
* ``sub``: for ``message`` the nested message dict; for ``enum`` a tuple
  ``(number by name, name by number, closed)``; for ``repeated`` and ``map`` the
  ``(kind, sub)`` of one element or map value; otherwise ``None``;
* ``oneof``: the name of the oneof the field belongs to, or ``None``;
* ``rename_to``: ``None`` for the JSON name; for a proto-name alias, the JSON name to use.
"""
'''


def _const_name(full_name):
    """``google.cloud.dialogflow.cx.v3.PageInfo.FormInfo`` -> ``PAGE_INFO_FORM_INFO``."""
    name = full_name.removeprefix(_PACKAGE)
    words = []
    for part in name.split("."):
        word = ""
        for index, char in enumerate(part):
            if char.isupper() and index and (not part[index - 1].isupper()):
                word += "_"
            word += char.upper()
        words.append(word)
    return "_".join(words)


class _Collector:
    """Walks the message graph from the root and records messages and enums to emit."""

    def __init__(self):
        self.messages = {}  # full name -> (const name, rendered field lines); insertion = emit order
        self.enums = {}  # full name -> (const name, rendered value)
        self._visiting = set()

    def message(self, descriptor):
        full_name = descriptor.full_name
        if full_name in self.messages:
            return self.messages[full_name][0]
        if full_name in self._visiting:
            raise SystemExit(
                f"{full_name} is recursive; the generated schema is a tree of literals and "
                "cannot express that. Teach gen_schema to emit forward references first."
            )
        if descriptor.is_extendable:
            # The parser rejects "[ext.name]" keys differently for extendable messages.
            raise SystemExit(f"{full_name} is extendable; extension keys are not mirrored")
        self._visiting.add(full_name)
        oneof_names = {oneof.name for oneof in descriptor.oneofs}
        lines = []
        taken = {field.json_name for field in descriptor.fields}
        for field in descriptor.fields:
            if field.json_name in oneof_names or field.name in oneof_names:
                # json_format records oneof names and field names in one list, so a clash
                # would add a rejection rule the validator does not model.
                raise SystemExit(f"{full_name}.{field.name} has the name of a oneof")
            kind, sub = self._kind(field)
            oneof = repr(field.containing_oneof.name) if field.containing_oneof else "None"
            lines.append(f"    {field.json_name!r}: ({kind!r}, {sub}, {oneof}, None),")
        for field in descriptor.fields:
            # The parser looks a key up by JSON name first, so a proto name that is some
            # other field's JSON name means that other field.
            if field.name != field.json_name and field.name not in taken:
                taken.add(field.name)
                kind, sub = self._kind(field)
                oneof = repr(field.containing_oneof.name) if field.containing_oneof else "None"
                lines.append(f"    {field.name!r}: ({kind!r}, {sub}, {oneof}, {field.json_name!r}),")
        self._visiting.discard(full_name)
        const = _const_name(full_name)
        self.messages[full_name] = (const, lines)
        return const

    def _kind(self, field):
        """``(kind, sub)`` of a field, ``sub`` rendered as Python source."""
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field = field.message_type.fields_by_name["key"]
            if key_field.type != key_field.TYPE_STRING:
                raise SystemExit(f"{field.full_name}: only string map keys are mirrored")
            value_kind, value_sub = self._single(field.message_type.fields_by_name["value"])
            return "map", f"({value_kind!r}, {value_sub})"
        kind, sub = self._single(field)
        if field.is_repeated:
            return "repeated", f"({kind!r}, {sub})"
        return kind, sub

    def _single(self, field):
        """``(kind, sub)`` of one value of ``field``, ignoring whether it repeats."""
        if field.type == field.TYPE_STRING:
            return "string", "None"
        if field.type == field.TYPE_BYTES:
            return "bytes", "None"
        if field.type == field.TYPE_BOOL:
            return "bool", "None"
        if field.type == field.TYPE_FLOAT:
            return "float", "None"
        if field.type == field.TYPE_DOUBLE:
            return "double", "None"
        if field.type == field.TYPE_ENUM:
            return "enum", self.enum(field.enum_type)
        if field.type == field.TYPE_MESSAGE:
            message = field.message_type
            if message.full_name in _WELL_KNOWN_KINDS:
                return _WELL_KNOWN_KINDS[message.full_name], "None"
            if message.full_name in _UNSUPPORTED_WELL_KNOWN or message.file.name == (
                "google/protobuf/wrappers.proto"
            ):
                raise SystemExit(f"{field.full_name}: {message.full_name} is not mirrored")
            return "message", self.message(message)
        # Integers, groups: the WebhookRequest has none, so the validator has no rules for them.
        raise SystemExit(f"{field.full_name}: field type {field.type} is not mirrored")

    def enum(self, descriptor):
        full_name = descriptor.full_name
        if full_name == "google.protobuf.NullValue":
            raise SystemExit("google.protobuf.NullValue fields are not mirrored")
        if full_name not in self.enums:
            _refuse_custom_json_enum_names(descriptor)
            by_name = ", ".join(f"{value.name!r}: {value.number}" for value in descriptor.values)
            by_number = ", ".join(
                f"{number}: {value.name!r}" for number, value in sorted(descriptor.values_by_number.items())
            )
            closed = bool(descriptor.is_closed)
            self.enums[full_name] = (_const_name(full_name), f"({{{by_name}}}, {{{by_number}}}, {closed})")
        return self.enums[full_name][0]


def _refuse_custom_json_enum_names(descriptor):
    """json_format also accepts the ``pb.enumvalue.json`` custom names; none are mirrored."""
    from google.protobuf import descriptor_pool

    try:
        extension = descriptor_pool.Default().FindExtensionByName("pb.enumvalue.json")
    except KeyError:
        return
    for value in descriptor.values:
        if value.GetOptions().HasExtension(extension):
            raise SystemExit(f"{descriptor.full_name}.{value.name} has a custom JSON name")


def _root_descriptor():
    from google.cloud.dialogflowcx_v3.types import WebhookRequest

    return WebhookRequest.pb().DESCRIPTOR


def render(root=None):
    """The complete text of ``fulfillment/_schema.py`` for ``root`` (default: WebhookRequest)."""
    root = root or _root_descriptor()
    collector = _Collector()
    root_const = collector.message(root)
    out = [_HEADER]
    for full_name, (const, value) in sorted(collector.enums.items()):
        out.append(f"# enum {full_name}")
        out.append(f"{const} = {value}")
        out.append("")
    # Messages were recorded after their fields' messages, so each name exists when used.
    for full_name, (const, lines) in collector.messages.items():
        out.append(f"# message {full_name}")
        if lines:
            out.append(f"{const} = {{")
            out.extend(lines)
            out.append("}")
        else:
            out.append(f"{const} = {{}}")
        out.append("")
    out.append(f"ROOT = {root_const}")
    return _ruff_format("\n".join(out) + "\n")


def _ruff_format(source):
    """``source`` as ``ruff format`` leaves it, so the committed file survives the team's
    pre-commit ``ruff format .`` unchanged and the staleness test compares like with like."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(SCHEMA_PATH), "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=SCHEMA_PATH.parents[1],
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"ruff format failed on the generated schema:\n{result.stderr}")
    return result.stdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed file")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is stale: run python -m tools.gen_schema", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
