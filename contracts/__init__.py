"""Contracts of the TRIFFT -> Klaviyo integration: JSON Schemas for every payload, and validation.

Four contracts, all JSON Schema draft 2020-12, bundled in ``contracts/schemas/``:

1. ``event_schema()``: a TRIFFT member event, the sync core's input (docs/trifft-events.md).
2. ``metric_schema(name)``: the properties of each of the 15 standard Klaviyo metrics, as TRIFFT sends them.
3. ``profile_refresh_schema()``: the profile refresh that follows every standard event.
4. ``endpoint_schema(method, path)``: Klaviyo's request bodies, derived from its OpenAPI spec.

``validate(instance, schema)`` returns ``Violation``s naming the JSON pointer and the rule broken.
"""

from __future__ import annotations

from ._catalog import (
    ALL_KINDS,
    CUSTOM_WEBHOOK,
    KIND_BY_METRIC,
    METRIC_BY_KIND,
    METRIC_NAMES,
    PROFILE_ATTRIBUTES,
    PROFILE_PROPERTIES,
    STANDARD_KINDS,
)
from ._errors import ContractError, MalformedPayload, UnknownSchema
from ._klaviyo import (
    KLAVIYO_REVISION,
    NEWEST_REVISION,
    OLDEST_REVISION,
    REVISIONS,
    KlaviyoOperation,
    klaviyo_operations,
    match_operation,
    openapi,
    template,
)
from ._schemas import (
    Schema,
    Violation,
    endpoint_schema,
    event_schema,
    metric_schema,
    parse_json,
    profile_refresh_schema,
    schema,
    validate,
)

__all__ = [
    "ALL_KINDS",
    "CUSTOM_WEBHOOK",
    "KIND_BY_METRIC",
    "KLAVIYO_REVISION",
    "METRIC_BY_KIND",
    "METRIC_NAMES",
    "NEWEST_REVISION",
    "OLDEST_REVISION",
    "PROFILE_ATTRIBUTES",
    "PROFILE_PROPERTIES",
    "REVISIONS",
    "STANDARD_KINDS",
    "ContractError",
    "KlaviyoOperation",
    "MalformedPayload",
    "Schema",
    "UnknownSchema",
    "Violation",
    "endpoint_schema",
    "event_schema",
    "klaviyo_operations",
    "match_operation",
    "metric_schema",
    "openapi",
    "parse_json",
    "profile_refresh_schema",
    "schema",
    "template",
    "validate",
]
