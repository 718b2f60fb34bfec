"""The operations the fake Klaviyo serves, read from Klaviyo's OpenAPI spec (revision 2026-07-15).

Routing, parameters, allowed filter operators, rate limits and request-body schemas all come from the trimmed
spec bundled in ``contracts/schemas/klaviyo/2026-07-15/openapi.json`` (see scripts/refresh_klaviyo_spec.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import contracts

KB, MB = 1024, 1024 * 1024

#: Payload limits from Klaviyo's operation descriptions (5 MB for events and bulk jobs, 100 KB for a profile).
MAX_BODY: dict[str, int] = {
    "create_event": 5 * MB,
    "bulk_create_events": 5 * MB,
    "create_or_update_profile": 100 * KB,
    "create_profile": 100 * KB,
    "update_profile": 100 * KB,
    "bulk_import_profiles": 5 * MB,
    "bulk_subscribe_profiles": 5 * MB,
    "bulk_unsubscribe_profiles": 5 * MB,
}


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # query, path or header
    required: bool
    schema: dict[str, Any]
    #: For ``filter``: field -> the operators the spec allows on it.
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def enum(self) -> tuple[str, ...]:
        source = self.schema.get("items", self.schema)
        return tuple(source.get("enum", ()))


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    parameters: dict[str, Parameter]
    burst: int  # requests per second
    steady: int  # requests per minute
    scopes: tuple[str, ...]
    success: int

    @property
    def body_schema(self) -> contracts.Schema | None:
        return _closed_schema(self.method, self.path)

    @property
    def max_body(self) -> int:
        return MAX_BODY.get(self.operation_id, 5 * MB)

    def query(self) -> dict[str, Parameter]:
        return {n: p for n, p in self.parameters.items() if p.location == "query"}


_SCHEMA_MAPS = ("properties", "$defs", "patternProperties", "dependentSchemas")
_SCHEMA_ONE = ("items", "additionalProperties", "if", "then", "else", "not", "contains", "propertyNames")
_SCHEMA_LISTS = ("oneOf", "anyOf", "allOf", "prefixItems")


def _closing(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    closed = dict(schema)
    for key in _SCHEMA_MAPS:
        if isinstance(schema.get(key), dict):
            closed[key] = {name: _closing(item) for name, item in schema[key].items()}
    for key in _SCHEMA_ONE:
        if key in schema:
            closed[key] = _closing(schema[key])
    for key in _SCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            closed[key] = [_closing(item) for item in schema[key]]
    if "properties" in schema and "additionalProperties" not in schema and "patternProperties" not in schema:
        closed["additionalProperties"] = False
    return closed


@cache
def _closed_schema(method: str, path: str) -> contracts.Schema | None:
    """The request-body schema with every object that lists its fields closed to other fields.

    Klaviyo refuses a field its schema does not name: 400 ``invalid``, "'last_name' is not a valid field for the
    resource 'profile'.", pointer at the field (a real response quoted in https://github.com/verbb/formie/issues/1986).
    The spec does not say ``additionalProperties: false``, so the emulator adds it. Free-form objects (custom
    ``properties``, ``patch_properties.append``) list no fields and stay open, and so does the document root,
    where JSON:API reserves members (``meta``, ``jsonapi``) whose handling by Klaviyo is not known.
    """
    try:
        open_schema = contracts.endpoint_schema(method, path)
    except contracts.UnknownSchema:
        return None
    contents = _closing(open_schema.contents)
    root = contents.get("$ref", "").rsplit("/", 1)[-1]
    if root in contents.get("$defs", {}):
        contents["$defs"][root] = {
            k: v for k, v in contents["$defs"][root].items() if k != "additionalProperties"
        }
    contents["$id"] = open_schema.id.removesuffix(".json") + ".closed.json"
    return contracts.Schema(contents["$id"], contents)


_FILTER_LINE = re.compile(r"`([^`]+)`: ((?:`[^`]+`(?:, )?)+)")


def _filters(description: str) -> dict[str, tuple[str, ...]]:
    allowed: dict[str, tuple[str, ...]] = {}
    for line in description.split("<br>"):
        match = _FILTER_LINE.fullmatch(line.strip())
        if match:
            allowed[match.group(1)] = tuple(re.findall(r"`([^`]+)`", match.group(2)))
    return allowed


def _rate(text: str) -> int:
    return int(text.split("/")[0])


@cache
def operations() -> tuple[Operation, ...]:
    spec = contracts.openapi()
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            parameters = {}
            for raw in op.get("parameters", []):
                if "$ref" in raw:
                    raw = spec["components"]["parameters"][raw["$ref"].rsplit("/", 1)[1]]
                filters = _filters(raw.get("description", "")) if raw["name"] == "filter" else {}
                parameters[raw["name"]] = Parameter(
                    raw["name"], raw["in"], bool(raw.get("required")), raw.get("schema", {}), filters
                )
            limits = op.get("x-klaviyo-ratelimit", {"burst": "10/s", "steady": "150/m"})
            success = min(int(code) for code in op["responses"] if code.isdigit())
            found.append(
                Operation(
                    op["operationId"],
                    method.upper(),
                    path,
                    parameters,
                    _rate(limits["burst"]),
                    _rate(limits["steady"]),
                    tuple(op.get("x-klaviyo-scopes", ())),
                    success,
                )
            )
    return tuple(found)


def operation(operation_id: str) -> Operation:
    for op in operations():
        if op.operation_id == operation_id:
            return op
    raise KeyError(operation_id)


def allowed_methods(path: str) -> list[str]:
    """The methods the spec has for a concrete path (``/api/profiles/01J...``, trailing slash or not)."""
    template = contracts.template(path)
    return sorted(op.method for op in operations() if op.path == template) if template else []
