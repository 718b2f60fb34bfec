"""Loading the bundled JSON Schemas and validating against them; each error names a pointer and a rule."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from ._catalog import KIND_BY_METRIC, METRIC_BY_KIND
from ._errors import MalformedPayload, UnknownSchema
from ._klaviyo import KLAVIYO_REVISION, body_schema_file, request_body_endpoints

if TYPE_CHECKING:  # the Python validator is imported when an instance first needs explaining
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

BASE = "https://trifft-klaviyo.invalid/schemas/"


@dataclass(frozen=True, slots=True)
class Violation:
    """One way an instance breaks its schema.

    ``pointer`` is an RFC 6901 JSON pointer into the instance ("" is the whole document); ``rule`` is the JSON
    Schema keyword that failed (``required``, ``type``, ``pattern``, ``additionalProperties``, ...).
    """

    pointer: str
    rule: str
    message: str
    schema_path: str
    #: What the contract wants there, where the rule says (a type, the allowed values, a pattern, "present").
    expected: Any = field(default=None, hash=False)

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message} [{self.rule}]"


class Schema:
    """A bundled schema, ready to validate.

    Validity is decided by jsonschema-rs (a compiled validator, about 200 times faster on TRIFFT events); only
    an invalid instance is walked again by the Python ``jsonschema`` package, whose error tree gives the
    pointers and rules reported.
    """

    def __init__(self, schema_id: str, contents: dict[str, Any]) -> None:
        self.id = schema_id
        self.contents = contents
        self.title: str = contents.get("title", schema_id)
        self._fast = jsonschema_rs.validator_for(contents, registry=_rs_registry())

    @functools.cached_property
    def _explainer(self) -> Draft202012Validator:
        from jsonschema import Draft202012Validator

        return Draft202012Validator(self.contents, registry=_registry())

    def __repr__(self) -> str:
        return f"Schema({self.id!r})"

    def validate(self, instance: Any) -> list[Violation]:
        """Every violation, ordered by pointer; empty when the instance is valid."""
        if self.is_valid(instance):
            return []
        found = {v for error in self._explainer.iter_errors(instance) for v in _violations(error)}
        if not found:  # the two validators disagree: report what the one that refused says
            found = {
                Violation(
                    _pointer(e.instance_path),
                    type(e.kind).__name__.lower(),
                    e.message,
                    _pointer(e.schema_path),
                )
                for e in self._fast.iter_errors(instance)
            }
        return sorted(found, key=lambda v: (v.pointer, v.rule, v.message))

    def is_valid(self, instance: Any) -> bool:
        try:
            return bool(self._fast.is_valid(instance))
        except (ValueError, OverflowError):  # numbers beyond what the compiled validator holds
            return bool(self._explainer.is_valid(instance))


def _schema_files() -> Iterator[tuple[str, dict[str, Any]]]:
    stack = [resources.files("contracts") / "schemas"]
    while stack:
        folder = stack.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                stack.append(entry)
            elif entry.name.endswith(".json"):
                contents = json.loads(entry.read_text(encoding="utf-8"))
                if isinstance(contents, dict) and "$id" in contents:
                    yield contents["$id"], contents


@cache
def _contents() -> dict[str, dict[str, Any]]:
    return dict(_schema_files())


@cache
def _registry() -> Registry[Any]:
    from referencing import Registry, Resource

    return Registry[Any]().with_resources(
        (schema_id, Resource.from_contents(body)) for schema_id, body in _contents().items()
    )


@cache
def _rs_registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry(list(_contents().items()))


@cache
def schema(path: str) -> Schema:
    """The bundled schema at ``path`` relative to the schemas folder, e.g. ``"trifft/event.json"``.

    A fragment picks a part of a file: ``"trifft/event.json#/$defs/member"``.
    """
    schema_id = path if path.startswith("https://") else BASE + path
    document, _, fragment = schema_id.partition("#")
    if document not in _contents():
        known = sorted(s.removeprefix(BASE) for s in _contents())
        raise UnknownSchema("path", path, known)
    if fragment:
        return Schema(schema_id, {"$ref": schema_id, "title": path})
    return Schema(schema_id, _contents()[schema_id])


def event_schema() -> Schema:
    """Contract 1: the TRIFFT member event envelope, the sync core's input."""
    return schema("trifft/event.json")


def metric_schema(name: str) -> Schema:
    """Contract 2: the properties of one of the 15 standard metrics, by its exact Klaviyo name or its kind."""
    kind = KIND_BY_METRIC.get(name, name if name in METRIC_BY_KIND else None)
    if kind is None:
        raise UnknownSchema("metric", name, list(KIND_BY_METRIC))
    return schema(f"metrics/{kind}.json")


def profile_refresh_schema() -> Schema:
    """Contract 3: the profile refresh that follows every standard event."""
    return schema("profile/refresh.json")


def endpoint_schema(method: str, path: str) -> Schema:
    """Contract 4: Klaviyo's request body for ``METHOD /api/path`` (derived from the OpenAPI spec).

    ``path`` may be concrete (``/api/profiles/01J.../``) or templated (``/api/profiles/{id}``); a trailing
    slash is ignored, as Klaviyo ignores it.
    """
    file = body_schema_file(method, path)
    if file is None:
        raise UnknownSchema("endpoint", f"{method.upper()} {path}", request_body_endpoints())
    return schema(f"klaviyo/{KLAVIYO_REVISION}/{file}")


def validate(instance: Any, against: Schema | str) -> list[Violation]:
    """Validate ``instance`` against a Schema or a bundled schema path; return the violations."""
    return (against if isinstance(against, Schema) else schema(against)).validate(instance)


class _NotJson(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _constant(name: str) -> Any:
    raise _NotJson(name)


def _outside_strings(text: str, token: str) -> int:
    """Where ``token`` first stands outside a JSON string in ``text`` (0 if it never does)."""
    in_string = escaped = False
    for position, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif text.startswith(token, position):
            return position
    return 0


def parse_json(text: str, source: str = "<payload>") -> Any:
    """Parse JSON text, raising MalformedPayload with the 1-based line and column where it went wrong.

    Strict where Python's ``json`` is lenient: ``NaN`` and ``Infinity`` are not JSON (RFC 8259), and a payload
    holding one is refused here rather than sent on, or quietly made null by an encoder further down."""
    try:
        return json.loads(text, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        # Some of json's messages end in "at", meant to be followed by the position ("Invalid control character
        # at"): the position is given separately, so the dangling word would read "at at line 5".
        reason = exc.msg.removesuffix(" at")
        raise MalformedPayload(source, exc.lineno, exc.colno, exc.pos, reason) from None
    except _NotJson as exc:
        position = _outside_strings(text, exc.name)
        line = text.count("\n", 0, position) + 1
        column = position - text.rfind("\n", 0, position)
        raise MalformedPayload(source, line, column, position, f"{exc.name} is not a JSON value") from None


def _pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _violations(error: ValidationError) -> Iterator[Violation]:
    from jsonschema.exceptions import best_match

    if error.validator in ("oneOf", "anyOf") and error.context:
        # Report from inside the branch the value was meant for: drop branches that failed on the value's own
        # type (e.g. the null branch of "X or null"), then take the deepest remaining error.
        depth = len(error.absolute_path)
        meant = [
            e
            for e in error.context
            if not (e.validator in ("type", "const", "enum") and len(e.absolute_path) == depth)
        ]
        yield from _violations(
            max(meant, key=lambda e: len(e.absolute_path)) if meant else best_match(error.context)
        )
        return
    here = list(error.absolute_path)
    schema_path = _pointer(error.absolute_schema_path)
    rule = str(error.validator)
    instance = error.instance
    if rule == "required" and isinstance(instance, dict) and isinstance(error.validator_value, list):
        for name in error.validator_value:
            if name not in instance:
                yield Violation(
                    _pointer([*here, name]), rule, f"{name!r} is required", schema_path, "present"
                )
        return
    if rule == "additionalProperties" and isinstance(instance, dict) and isinstance(error.schema, dict):
        allowed = set(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        for name in instance:
            if name not in allowed and not any(p.search(name) for p in patterns):
                yield Violation(
                    _pointer([*here, name]), rule, f"{name!r} is not allowed here", schema_path, "absent"
                )
        return
    yield Violation(_pointer(here), rule, error.message, schema_path, _expected(rule, error.validator_value))


def _expected(rule: str, wanted: Any) -> Any:
    """What a keyword asks for, as a reader would say it: the type, the values, ``pattern ^…$``, ``minimum 0``."""
    if rule in ("type", "enum", "const"):
        return wanted
    if isinstance(wanted, str | int | float) and not isinstance(wanted, bool):
        return f"{rule} {wanted}"
    return None
