"""Contract 4: Klaviyo's request bodies, as JSON Schemas derived from its OpenAPI spec (revision 2026-07-15).

Everything here reads the committed files under ``contracts/schemas/klaviyo/<revision>/`` and the script in
``scripts/``; nothing reads the upstream spec.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import contracts
from contracts import UnknownSchema

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "contracts" / "schemas" / "klaviyo" / contracts.KLAVIYO_REVISION
BASE = "https://trifft-klaviyo.invalid/schemas/"
INDEX: dict[str, Any] = json.loads((FOLDER / "index.json").read_text(encoding="utf-8"))
OPENAPI: dict[str, Any] = json.loads((FOLDER / "openapi.json").read_text(encoding="utf-8"))
BODIES: dict[str, str] = INDEX["request_bodies"]
PROFILE_ID = "01GDDKASAP8TKDDA2GRZDSVP4H"

TRIFFT_OPERATIONS = {
    "create_event": ("POST", "/api/events"),
    "bulk_create_events": ("POST", "/api/event-bulk-create-jobs"),
    "get_events": ("GET", "/api/events"),
    "get_event": ("GET", "/api/events/{id}"),
    "get_metrics": ("GET", "/api/metrics"),
    "get_metric": ("GET", "/api/metrics/{id}"),
    "create_or_update_profile": ("POST", "/api/profile-import"),
    "create_profile": ("POST", "/api/profiles"),
    "get_profiles": ("GET", "/api/profiles"),
    "get_profile": ("GET", "/api/profiles/{id}"),
    "update_profile": ("PATCH", "/api/profiles/{id}"),
    "bulk_import_profiles": ("POST", "/api/profile-bulk-import-jobs"),
    "get_bulk_import_profiles_job": ("GET", "/api/profile-bulk-import-jobs/{job_id}"),
    "bulk_subscribe_profiles": ("POST", "/api/profile-subscription-bulk-create-jobs"),
    "bulk_unsubscribe_profiles": ("POST", "/api/profile-subscription-bulk-delete-jobs"),
    "get_bulk_import_profiles_jobs": ("GET", "/api/profile-bulk-import-jobs"),
    "get_errors_for_bulk_import_profiles_job": ("GET", "/api/profile-bulk-import-jobs/{id}/import-errors"),
    "get_profiles_for_bulk_import_profiles_job": ("GET", "/api/profile-bulk-import-jobs/{id}/profiles"),
    "get_list_for_bulk_import_profiles_job": ("GET", "/api/profile-bulk-import-jobs/{id}/lists"),
    "create_list": ("POST", "/api/lists"),
    "get_list": ("GET", "/api/lists/{id}"),
    "get_profiles_for_list": ("GET", "/api/lists/{id}/profiles"),
}


@cache
def refresh_script() -> ModuleType:
    """``scripts/refresh_klaviyo_spec.py`` as a module (``scripts/`` is not a package)."""
    path = ROOT / "scripts" / "refresh_klaviyo_spec.py"
    spec = importlib.util.spec_from_file_location("refresh_klaviyo_spec", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def errors(method: str, path: str, body: Any) -> list[tuple[str, str]]:
    """(pointer, rule) of every violation of the endpoint's request-body schema."""
    return [(v.pointer, v.rule) for v in contracts.endpoint_schema(method, path).validate(body)]


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key not in ("examples", "example", "enum", "default"):
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


# ------------------------------------------------------------------------------------ realistic bodies


def event_body() -> dict[str, Any]:
    """A TRIFFT 'Placed Order'-like event, as the sync core would send it to POST /api/events."""
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {
                    "venue": "Alte Liebe",
                    "points_earned": 12,
                    "items": [{"sku": "A-1", "qty": 2}],
                },
                "time": "2026-07-20T18:04:05+00:00",
                "value": 24.5,
                "value_currency": "EUR",
                "unique_id": "c5b0f5b2-3f7e-4f0c-9b1e-2a1d6f9f0a11",
                "backfill": False,
                "metric": {"data": {"type": "metric", "attributes": {"name": "Placed Order"}}},
                "profile": {
                    "data": {
                        "type": "profile",
                        "attributes": {
                            "email": "mia.schulz@example.com",
                            "phone_number": "+4915112345678",
                            "external_id": "0f8c6e1a-6b0e-4b7a-9d7e-0a3c2b1d4e5f",
                            "first_name": "Mia",
                            "locale": "de-DE",
                            "location": {"city": "Hamburg", "country": "Germany", "latitude": 53.5511},
                            "properties": {"trifft_points": 340, "trifft_tier": "Gold"},
                        },
                    }
                },
            },
        }
    }


def bulk_events_body() -> dict[str, Any]:
    """Two members, one event each (the second with two), for POST /api/event-bulk-create-jobs."""

    def entry(email: str, *names: str) -> dict[str, Any]:
        return {
            "type": "event-bulk-create",
            "attributes": {
                "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
                "events": {
                    "data": [
                        {
                            "type": "event",
                            "attributes": {
                                "properties": {"source": "TRIFFT"},
                                "metric": {"data": {"type": "metric", "attributes": {"name": name}}},
                                "unique_id": f"{email}:{name}",
                            },
                        }
                        for name in names
                    ]
                },
            },
        }

    return {
        "data": {
            "type": "event-bulk-create-job",
            "attributes": {
                "events-bulk-create": {
                    "data": [
                        entry("mia.schulz@example.com", "Redeemed Coupon"),
                        entry("jonas.weber@example.com", "Opened App", "Earned Points"),
                    ]
                }
            },
        }
    }


def profile_import_body() -> dict[str, Any]:
    """POST /api/profile-import with a patch of custom properties in ``meta`` (beside ``attributes``)."""
    return {
        "data": {
            "type": "profile",
            "attributes": {
                "external_id": "0f8c6e1a-6b0e-4b7a-9d7e-0a3c2b1d4e5f",
                "email": "mia.schulz@example.com",
                "properties": {"trifft_points": 352},
            },
            "meta": {
                "patch_properties": {
                    "append": {"trifft_venues_visited": "Alte Liebe"},
                    "unset": ["trifft_pending_coupon", "trifft_old_tier"],
                }
            },
        }
    }


def bulk_subscribe_body() -> dict[str, Any]:
    """POST /api/profile-subscription-bulk-create-jobs: email and SMS marketing consent, into a list."""
    return {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {
                "custom_source": "TRIFFT",
                "historical_import": False,
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "mia.schulz@example.com",
                                "phone_number": "+4915112345678",
                                "subscriptions": {
                                    "email": {"marketing": {"consent": "SUBSCRIBED"}},
                                    "sms": {
                                        "marketing": {"consent": "SUBSCRIBED"},
                                        "transactional": {"consent": "SUBSCRIBED"},
                                    },
                                },
                            },
                        }
                    ]
                },
            },
            "relationships": {"list": {"data": {"type": "list", "id": "Y6nRLr"}}},
        }
    }


def bulk_unsubscribe_body() -> dict[str, Any]:
    return {
        "data": {
            "type": "profile-subscription-bulk-delete-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "mia.schulz@example.com",
                                "subscriptions": {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}},
                            },
                        }
                    ]
                }
            },
            "relationships": {"list": {"data": {"type": "list", "id": "Y6nRLr"}}},
        }
    }


def create_profile_body() -> dict[str, Any]:
    return {
        "data": {"type": "profile", "attributes": {"email": "mia.schulz@example.com", "first_name": "Mia"}}
    }


def update_profile_body() -> dict[str, Any]:
    return {
        "data": {
            "type": "profile",
            "id": PROFILE_ID,
            "attributes": {"locale": "en-GB", "location": None, "properties": {"trifft_language": "en"}},
            "meta": {"patch_properties": {"unset": "trifft_pending_coupon"}},
        }
    }


def bulk_import_body() -> dict[str, Any]:
    profile = profile_import_body()["data"]
    second = {
        "type": "profile",
        "attributes": {"phone_number": "+4915187654321", "properties": {"trifft_points": 0}},
    }
    return {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": [profile, second]}},
            "relationships": {"lists": {"data": [{"type": "list", "id": "Y6nRLr"}]}},
        }
    }


REALISTIC = {
    "POST /api/events": event_body,
    "POST /api/event-bulk-create-jobs": bulk_events_body,
    "POST /api/profile-import": profile_import_body,
    "POST /api/profiles": create_profile_body,
    f"PATCH /api/profiles/{PROFILE_ID}": update_profile_body,
    "POST /api/profile-bulk-import-jobs": bulk_import_body,
    "POST /api/profile-subscription-bulk-create-jobs": bulk_subscribe_body,
    "POST /api/profile-subscription-bulk-delete-jobs": bulk_unsubscribe_body,
}


# ----------------------------------------------------------------------------- the spec's own examples


def spec_example(node: Any, defs: dict[str, Any]) -> Any:
    """A body made of the spec's own field examples.

    Klaviyo's spec has no whole-body request examples, only an ``example`` per field (now ``examples``); this
    puts them together, with the single allowed value of each JSON:API ``type`` enum. Every property that has
    an example (or contains one) is filled in, so each example meets its field's converted schema in place.
    Returns ``None`` for a field with nothing to show.
    """
    if not isinstance(node, dict):
        return None
    if "examples" in node:
        return copy.deepcopy(node["examples"][0])
    if "$ref" in node:
        return spec_example(defs[node["$ref"].removeprefix("#/$defs/")], defs)
    if "else" in node:  # nullable: show the non-null side
        return spec_example(node["else"], defs)
    for keyword in ("oneOf", "anyOf"):
        if keyword in node:
            return spec_example(node[keyword][0], defs)
    if "enum" in node:
        return next(value for value in node["enum"] if value is not None)
    kinds = node.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if "object" in kinds:
        found = {name: spec_example(sub, defs) for name, sub in node.get("properties", {}).items()}
        body = {name: value for name, value in found.items() if value is not None}
        missing = [name for name in node.get("required", []) if name not in body]
        assert not missing, f"the spec gives no example for required {missing}"
        return body or None
    if "array" in kinds:
        item = spec_example(node.get("items"), defs)
        return None if item is None else [item]
    return None


# ------------------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("endpoint", sorted(BODIES))
def test_each_request_body_loads_through_endpoint_schema_by_its_templated_path(endpoint: str) -> None:
    method, path = endpoint.split(" ", 1)
    loaded = contracts.endpoint_schema(method, path)
    assert loaded.id == f"{BASE}klaviyo/{contracts.KLAVIYO_REVISION}/{BODIES[endpoint]}"
    assert loaded.contents["$id"] == loaded.id


def test_a_concrete_profile_id_and_a_trailing_slash_find_the_update_profile_schema() -> None:
    loaded = contracts.endpoint_schema("patch", f"/api/profiles/{PROFILE_ID}/")
    assert loaded.id.endswith("/update_profile.json")
    assert contracts.endpoint_schema("POST", "/api/events/").id.endswith("/create_event.json")


def test_an_endpoint_without_a_request_body_has_no_schema() -> None:
    with pytest.raises(UnknownSchema):
        contracts.endpoint_schema("GET", "/api/events")


@pytest.mark.parametrize("file", sorted(set(BODIES.values())))
def test_each_derived_schema_is_valid_json_schema_2020_12(file: str) -> None:
    contents = json.loads((FOLDER / file).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(contents)
    assert contents["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert contents["title"] and file.removesuffix(".json") in contents["description"]


@pytest.mark.parametrize("file", sorted(set(BODIES.values())))
def test_each_derived_schema_refers_only_to_its_own_defs(file: str) -> None:
    contents = json.loads((FOLDER / file).read_text(encoding="utf-8"))
    found = set(refs(contents))
    assert found, "a request body without a single $ref was not derived from the spec's components"
    assert {ref.removeprefix("#/$defs/") for ref in found} <= set(contents["$defs"])
    assert all(ref.startswith("#/$defs/") for ref in found)


def test_no_openapi_only_keyword_is_left_in_a_derived_schema() -> None:
    for file in set(BODIES.values()):
        text = (FOLDER / file).read_text(encoding="utf-8")
        for keyword in ("nullable", "example", "discriminator", "x-klaviyo"):
            assert f'"{keyword}":' not in text, (file, keyword)


# -------------------------------------------------------------------------------- index and the slice


def test_the_index_lists_every_operation_with_its_rate_limits_and_scopes() -> None:
    listed = {op["operationId"]: op for op in INDEX["operations"]}
    assert {name: (op["method"], op["path"]) for name, op in listed.items()} == TRIFFT_OPERATIONS
    for op in listed.values():
        assert re.fullmatch(r"[0-9]+/s", op["x-klaviyo-ratelimit"]["burst"]), op
        assert re.fullmatch(r"[0-9]+/m", op["x-klaviyo-ratelimit"]["steady"]), op
        assert op["scopes"], op
    assert listed["create_event"]["x-klaviyo-ratelimit"] == {"burst": "350/s", "steady": "3500/m"}
    assert listed["create_event"]["scopes"] == ["events:write"]
    assert set(listed["bulk_subscribe_profiles"]["scopes"]) == {
        "lists:write",
        "profiles:write",
        "subscriptions:write",
    }


def test_the_index_maps_each_operation_with_a_body_to_its_file() -> None:
    with_body = {f"{op['method']} {op['path']}": op["request_body"] for op in INDEX["operations"]}
    assert {endpoint: file for endpoint, file in with_body.items() if file is not None} == BODIES
    assert BODIES["PATCH /api/profiles/{id}"] == "update_profile.json"
    assert len(BODIES) == 9
    assert INDEX["revision"] == contracts.KLAVIYO_REVISION == OPENAPI["info"]["version"]
    assert re.fullmatch(r"[0-9a-f]{40}", INDEX["source"]["commit"])
    assert INDEX["source"]["repository"] == "klaviyo/openapi"


def test_the_trimmed_spec_keeps_exactly_trifft_operations_and_resolves_every_ref() -> None:
    operations = {
        op["operationId"]: (method.upper(), path)
        for path, item in OPENAPI["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }
    assert operations == TRIFFT_OPERATIONS
    components = OPENAPI["components"]
    for ref in refs(OPENAPI):
        _, _, kind, name = ref.split("/")
        assert name in components[kind], ref
    assert OPENAPI["openapi"].startswith("3.0.") and OPENAPI["servers"][0]["url"] == "https://a.klaviyo.com"
    assert "Klaviyo-API-Key" in components["securitySchemes"]
    assert "$id" not in OPENAPI, "the schema loader must not mistake the OpenAPI document for a schema"


def test_the_trimmed_spec_carries_no_component_that_nothing_uses() -> None:
    reachable: set[str] = set()
    todo = list(refs(OPENAPI["paths"]))
    while todo:
        ref = todo.pop()
        if ref not in reachable:
            reachable.add(ref)
            _, _, kind, name = ref.split("/")
            todo.extend(refs(OPENAPI["components"][kind][name]))
    every = {
        f"#/components/{kind}/{name}"
        for kind, table in OPENAPI["components"].items()
        if kind != "securitySchemes"
        for name in table
    }
    assert every == reachable


def test_klaviyo_licence_and_a_readme_ship_beside_the_schemas() -> None:
    licence = (FOLDER / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "Copyright (c) 2022 Klaviyo" in licence
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    assert "python scripts/refresh_klaviyo_spec.py --spec" in readme
    assert INDEX["source"]["commit"] in readme


# ---------------------------------------------------------------------------------- positive examples


@pytest.mark.parametrize("endpoint", sorted(BODIES))
def test_the_spec_own_field_examples_make_a_valid_body_for_each_operation(endpoint: str) -> None:
    method, path = endpoint.split(" ", 1)
    loaded = contracts.endpoint_schema(method, path)
    body = spec_example(loaded.contents, loaded.contents["$defs"])
    assert body["data"]["type"] and body["data"]["attributes"]
    assert loaded.validate(body) == []


def test_the_create_event_example_exercises_the_nullable_refs_with_values() -> None:
    loaded = contracts.endpoint_schema("POST", "/api/events")
    attributes = spec_example(loaded.contents, loaded.contents["$defs"])["data"]["attributes"]
    profile = attributes["profile"]["data"]["attributes"]
    assert profile["location"]["latitude"] == "40.7128"
    assert profile["meta"]["patch_properties"] == {"append": {"skus": "92538"}}
    assert attributes["metric"]["data"]["attributes"]["name"] == "Viewed Product"


@pytest.mark.parametrize("endpoint", sorted(REALISTIC))
def test_a_realistic_trifft_body_is_valid(endpoint: str) -> None:
    method, path = endpoint.split(" ", 1)
    assert errors(method, path, REALISTIC[endpoint]()) == []


def test_a_minimal_event_with_an_empty_properties_object_is_valid() -> None:
    body = {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {},
                "metric": {"data": {"type": "metric", "attributes": {"name": "Opened App"}}},
                "profile": {"data": {"type": "profile", "attributes": {"external_id": "m-1"}}},
            },
        }
    }
    assert errors("POST", "/api/events", body) == []


def test_unknown_members_are_accepted_because_the_spec_leaves_objects_open() -> None:
    body = event_body()
    body["data"]["attributes"]["trifft_note"] = "not in the spec"
    body["data"]["attributes"]["profile"]["data"]["attributes"]["favourite_venue"] = "Alte Liebe"
    assert errors("POST", "/api/events", body) == []
    for file in set(BODIES.values()):
        assert '"additionalProperties": false' not in (FOLDER / file).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------- negative examples


def without(body: dict[str, Any], *path: str | int) -> dict[str, Any]:
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return body


def with_value(body: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return body


EVENT_PROFILE = ("data", "attributes", "profile", "data", "attributes")
SUBSCRIBER = ("data", "attributes", "profiles", "data", 0, "attributes", "subscriptions")
BULK_ENTRY = ("data", "attributes", "events-bulk-create", "data")

BROKEN = [
    pytest.param(
        "POST /api/events",
        without(event_body(), "data", "type"),
        "/data/type",
        "required",
        id="create_event_without_data_type",
    ),
    pytest.param(
        "POST /api/events",
        with_value(event_body(), "events", "data", "type"),
        "/data/type",
        "enum",
        id="create_event_with_type_events",
    ),
    pytest.param(
        "POST /api/events",
        without(event_body(), "data", "attributes", "metric", "data", "attributes", "name"),
        "/data/attributes/metric/data/attributes/name",
        "required",
        id="create_event_without_metric_name",
    ),
    pytest.param(
        "POST /api/events",
        without(event_body(), "data", "attributes", "properties"),
        "/data/attributes/properties",
        "required",
        id="create_event_without_properties",
    ),
    pytest.param(
        "POST /api/events",
        with_value(event_body(), [{"points": 1}], "data", "attributes", "properties"),
        "/data/attributes/properties",
        "type",
        id="create_event_with_properties_a_list",
    ),
    pytest.param(
        "POST /api/events",
        with_value(event_body(), "24.50", "data", "attributes", "value"),
        "/data/attributes/value",
        "type",
        id="create_event_with_value_a_string",
    ),
    pytest.param(
        "POST /api/events",
        with_value(event_body(), "false", "data", "attributes", "backfill"),
        "/data/attributes/backfill",
        "type",
        id="create_event_with_backfill_a_string",
    ),
    pytest.param(
        "POST /api/events",
        without(event_body(), "data", "attributes", "profile"),
        "/data/attributes/profile",
        "required",
        id="create_event_without_profile",
    ),
    pytest.param(
        "POST /api/events",
        with_value(event_body(), "event", "data", "attributes", "metric", "data", "type"),
        "/data/attributes/metric/data/type",
        "enum",
        id="create_event_with_metric_type_event",
    ),
    pytest.param(
        "POST /api/events",
        with_value(event_body(), ["a@example.com"], *EVENT_PROFILE, "email"),
        "/data/attributes/profile/data/attributes/email",
        "type",
        id="create_event_with_email_a_list",
    ),
    pytest.param(
        "POST /api/event-bulk-create-jobs",
        without(bulk_events_body(), "data", "attributes", "events-bulk-create"),
        "/data/attributes/events-bulk-create",
        "required",
        id="bulk_events_without_the_hyphenated_key",
    ),
    pytest.param(
        "POST /api/event-bulk-create-jobs",
        without(
            bulk_events_body(), *BULK_ENTRY, 1, "attributes", "events", "data", 1, "attributes", "metric"
        ),
        "/data/attributes/events-bulk-create/data/1/attributes/events/data/1/attributes/metric",
        "required",
        id="bulk_events_entry_without_metric",
    ),
    pytest.param(
        "POST /api/event-bulk-create-jobs",
        without(bulk_events_body(), *BULK_ENTRY, 0, "attributes", "profile"),
        "/data/attributes/events-bulk-create/data/0/attributes/profile",
        "required",
        id="bulk_events_entry_without_profile",
    ),
    pytest.param(
        "POST /api/event-bulk-create-jobs",
        with_value(bulk_events_body(), "event", "data", "type"),
        "/data/type",
        "enum",
        id="bulk_events_with_job_type_event",
    ),
    pytest.param(
        "POST /api/profile-import",
        with_value(profile_import_body(), 7, "data", "meta", "patch_properties", "unset"),
        "/data/meta/patch_properties/unset",
        "type",
        id="profile_import_with_unset_a_number",
    ),
    pytest.param(
        "POST /api/profile-import",
        with_value(profile_import_body(), "points=352", "data", "attributes", "properties"),
        "/data/attributes/properties",
        "type",
        id="profile_import_with_properties_a_string",
    ),
    pytest.param(
        "POST /api/profiles",
        with_value(create_profile_body(), "profiles", "data", "type"),
        "/data/type",
        "enum",
        id="create_profile_with_type_profiles",
    ),
    pytest.param(
        f"PATCH /api/profiles/{PROFILE_ID}",
        without(update_profile_body(), "data", "id"),
        "/data/id",
        "required",
        id="update_profile_without_id",
    ),
    pytest.param(
        f"PATCH /api/profiles/{PROFILE_ID}",
        with_value(update_profile_body(), None, "data", "id"),
        "/data/id",
        "type",
        id="update_profile_with_a_null_id",
    ),
    pytest.param(
        "POST /api/profile-bulk-import-jobs",
        without(bulk_import_body(), "data", "relationships", "lists", "data", 0, "id"),
        "/data/relationships/lists/data/0/id",
        "required",
        id="bulk_import_list_without_id",
    ),
    pytest.param(
        "POST /api/profile-subscription-bulk-create-jobs",
        with_value(bulk_subscribe_body(), "UNSUBSCRIBED", *SUBSCRIBER, "email", "marketing", "consent"),
        "/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consent",
        "enum",
        id="subscribe_with_unsubscribed_consent",
    ),
    pytest.param(
        "POST /api/profile-subscription-bulk-create-jobs",
        without(bulk_subscribe_body(), *SUBSCRIBER, "sms", "marketing", "consent"),
        "/data/attributes/profiles/data/0/attributes/subscriptions/sms/marketing/consent",
        "required",
        id="subscribe_sms_without_consent",
    ),
    pytest.param(
        "POST /api/profile-subscription-bulk-create-jobs",
        without(bulk_subscribe_body(), *SUBSCRIBER),
        "/data/attributes/profiles/data/0/attributes/subscriptions",
        "required",
        id="subscribe_without_subscriptions",
    ),
    pytest.param(
        "POST /api/profile-subscription-bulk-delete-jobs",
        with_value(bulk_unsubscribe_body(), "SUBSCRIBED", *SUBSCRIBER, "email", "marketing", "consent"),
        "/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consent",
        "enum",
        id="unsubscribe_with_subscribed_consent",
    ),
]


@pytest.mark.parametrize(("endpoint", "body", "pointer", "rule"), BROKEN)
def test_a_broken_body_is_rejected_at_its_pointer_with_the_rule_it_breaks(
    endpoint: str, body: dict[str, Any], pointer: str, rule: str
) -> None:
    method, path = endpoint.split(" ", 1)
    assert errors(method, path, body) == [(pointer, rule)]


def test_create_event_body_without_metric_name_is_rejected_at_its_pointer() -> None:
    body = without(event_body(), "data", "attributes", "metric", "data", "attributes", "name")
    (violation,) = contracts.endpoint_schema("POST", "/api/events").validate(body)
    assert violation.pointer == "/data/attributes/metric/data/attributes/name"
    assert violation.rule == "required"
    assert "'name' is required" in violation.message


def test_every_missing_required_member_is_reported_not_only_the_first() -> None:
    body: dict[str, Any] = {
        "data": {"attributes": {"metric": {"data": {"type": "metric", "attributes": {}}}}}
    }
    assert errors("POST", "/api/events", body) == [
        ("/data/attributes/metric/data/attributes/name", "required"),
        ("/data/attributes/profile", "required"),
        ("/data/attributes/properties", "required"),
        ("/data/type", "required"),
    ]


def test_a_body_that_is_not_an_object_is_rejected_at_the_root() -> None:
    assert errors("POST", "/api/events", [event_body()]) == [("", "type")]


# ------------------------------------------------------------------------ nullable without ``type``


def test_create_event_accepts_null_wherever_the_spec_says_nullable() -> None:
    body = event_body()
    attributes = body["data"]["attributes"]
    attributes.update(time=None, value=None, value_currency=None, unique_id=None, backfill=None)
    profile = attributes["profile"]["data"]
    profile["id"] = None
    profile["attributes"].update(location=None, meta=None, properties=None, email=None)
    assert errors("POST", "/api/events", body) == []

    inner = event_body()
    inner_profile = inner["data"]["attributes"]["profile"]["data"]["attributes"]
    inner_profile["location"] = {"latitude": None, "longitude": None, "city": None}
    inner_profile["meta"] = {"patch_properties": None, "patch_identifiers": None}
    assert errors("POST", "/api/events", inner) == []
    inner_profile["meta"] = {"patch_properties": {"append": None, "unset": None}}
    assert errors("POST", "/api/events", inner) == []


def test_create_event_still_rejects_a_broken_body_beside_null_nullable_refs() -> None:
    """The known pitfall: a mock server stops validating event bodies over ``nullable`` without ``type``.

    Here the nullable ``$ref``s are null and the body is otherwise broken: every fault is still reported.
    """
    body = without(event_body(), "data", "attributes", "metric", "data", "attributes", "name")
    profile = body["data"]["attributes"]["profile"]["data"]["attributes"]
    profile.update(location=None, meta=None)
    body["data"]["attributes"]["value"] = "24.50"
    assert errors("POST", "/api/events", body) == [
        ("/data/attributes/metric/data/attributes/name", "required"),
        ("/data/attributes/value", "type"),
    ]


@pytest.mark.parametrize(
    ("member", "value", "pointer", "rule"),
    [
        ("location", "Hamburg", "/location", "type"),
        ("location", {"latitude": True}, "/location/latitude", "type"),
        ("location", {"city": 20095}, "/location/city", "type"),
        ("meta", {"patch_properties": "trifft_points"}, "/meta/patch_properties", "type"),
        ("meta", {"patch_properties": {"unset": 7}}, "/meta/patch_properties/unset", "type"),
        ("meta", {"patch_properties": {"unset": ["a", 1]}}, "/meta/patch_properties/unset/1", "type"),
        (
            "meta",
            {"patch_identifiers": {"append": ["x@example.com"]}},
            "/meta/patch_identifiers/append",
            "type",
        ),
    ],
)
def test_a_non_null_value_of_a_nullable_ref_is_still_validated_in_depth(
    member: str, value: Any, pointer: str, rule: str
) -> None:
    body = with_value(event_body(), value, *EVENT_PROFILE, member)
    found = errors("POST", "/api/events", body)
    assert [(p.removeprefix("/data/attributes/profile/data/attributes"), r) for p, r in found] == [
        (pointer, rule)
    ]


def test_nullable_subscription_channels_accept_null_and_still_check_a_given_channel() -> None:
    body = bulk_subscribe_body()
    channels = body["data"]["attributes"]["profiles"]["data"][0]["attributes"]["subscriptions"]
    endpoint = ("POST", "/api/profile-subscription-bulk-create-jobs")
    channels["sms"] = None
    assert errors(*endpoint, body) == []
    channels["email"] = {"marketing": None}
    assert errors(*endpoint, body) == []
    channels["email"] = {"marketing": {"consent": "subscribed"}}
    assert errors(*endpoint, body) == [
        ("/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consent", "enum")
    ]


# ---------------------------------------------------------------------------- the conversion rules


def test_nullable_beside_a_ref_keeps_the_ref_for_non_null_values() -> None:
    convert = refresh_script().convert_schema
    source = {"$ref": "#/components/schemas/ProfileLocation", "nullable": True, "description": "Where."}
    assert convert(source) == {
        "description": "Where.",
        "if": {"type": "null"},
        "else": {"$ref": "#/$defs/ProfileLocation"},
    }


def test_nullable_beside_one_of_keeps_the_one_of_and_its_example() -> None:
    convert = refresh_script().convert_schema
    source = {"example": "40.7128", "nullable": True, "oneOf": [{"type": "string"}, {"type": "number"}]}
    converted = convert(source)
    assert converted == {
        "examples": ["40.7128"],
        "if": {"type": "null"},
        "else": {"oneOf": [{"type": "string"}, {"type": "number"}]},
    }
    checker = Draft202012Validator(converted)
    assert checker.is_valid(None) and checker.is_valid("40.7") and checker.is_valid(40.7)
    assert not checker.is_valid(True) and not checker.is_valid({})


def test_nullable_beside_type_and_all_of_is_wrapped_not_widened() -> None:
    convert = refresh_script().convert_schema
    source = {"type": "object", "nullable": True, "allOf": [{"$ref": "#/components/schemas/Data"}]}
    assert convert(source) == {
        "if": {"type": "null"},
        "else": {"type": "object", "allOf": [{"$ref": "#/$defs/Data"}]},
    }


def test_nullable_beside_type_widens_the_type_and_the_enum() -> None:
    convert = refresh_script().convert_schema
    source = {"type": "string", "enum": ["ios", "android"], "nullable": True, "example": "ios"}
    assert convert(source) == {
        "type": ["string", "null"],
        "enum": ["ios", "android", None],
        "examples": ["ios"],
    }
    assert convert({"type": "number", "nullable": False}) == {"type": "number"}


def test_openapi_only_keywords_are_dropped_and_an_unknown_one_stops_the_run() -> None:
    script = refresh_script()
    source = {
        "type": "object",
        "discriminator": {"propertyName": "type"},
        "xml": {"name": "x"},
        "externalDocs": {"url": "https://example.com"},
        "x-klaviyo-internal": True,
        "properties": {"example": {"type": "string", "example": "a property named example"}},
    }
    assert script.convert_schema(source) == {
        "type": "object",
        "properties": {"example": {"type": "string", "examples": ["a property named example"]}},
    }
    with pytest.raises(script.SpecError, match="patternProperties"):
        script.convert_schema({"type": "object", "patternProperties": {}})


def test_a_read_only_property_is_never_required_in_a_request() -> None:
    convert = refresh_script().convert_schema
    source = {
        "type": "object",
        "required": ["id", "name"],
        "properties": {"id": {"type": "string", "readOnly": True}, "name": {"type": "string"}},
    }
    converted = convert(source)
    assert converted["required"] == ["name"]
    assert converted["properties"]["id"] == {"type": "string", "readOnly": True}


def test_boolean_exclusive_bounds_become_numeric() -> None:
    convert = refresh_script().convert_schema
    assert convert({"type": "integer", "minimum": 0, "exclusiveMinimum": True}) == {
        "type": "integer",
        "exclusiveMinimum": 0,
    }


def test_slicing_keeps_the_wanted_operations_and_only_the_components_they_reach() -> None:
    script = refresh_script()
    ok = {"description": "ok"}
    spec = {
        "openapi": "3.0.2",
        "info": {"title": "t", "version": "2026-07-15"},
        "paths": {
            "/api/a": {
                "get": {"operationId": "get_a", "tags": ["A"], "responses": {"200": ok}},
                "post": {
                    "operationId": "create_a",
                    "tags": ["B"],
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}
                    },
                    "responses": {"4XX": {"$ref": "#/components/responses/E"}},
                },
            },
            "/api/c": {"get": {"operationId": "get_c", "responses": {"200": ok}}},
        },
        "components": {
            "schemas": {
                "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
                "B": {"type": "string"},
                "C": {"type": "string"},
            },
            "responses": {"E": {"description": "error"}},
            "securitySchemes": {"Key": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        },
        "security": [{"Key": []}],
        "tags": [{"name": "A"}, {"name": "B"}],
    }
    source = script.Source.parse("f0a30ba41254904dc410d84ca497df68f8872276 Thu Jul 23 13:07:25 2026 +0000")
    sliced = script.slice_spec(spec, source, ["create_a"])
    assert list(sliced["paths"]) == ["/api/a"] and list(sliced["paths"]["/api/a"]) == ["post"]
    assert sliced["components"] == {
        "schemas": {"A": spec["components"]["schemas"]["A"], "B": {"type": "string"}},
        "responses": {"E": {"description": "error"}},
        "securitySchemes": spec["components"]["securitySchemes"],
    }
    assert sliced["tags"] == [{"name": "B"}]
    assert sliced["x-trifft-source"]["date"] == "2026-07-23T13:07:25+00:00"
    with pytest.raises(script.SpecError, match="get_b"):
        script.slice_spec(spec, source, ["create_a", "get_b"])


# -------------------------------------------------------------------------------------- reproducible


def test_converting_the_committed_openapi_json_reproduces_the_committed_schemas_byte_for_byte(
    tmp_path: Path,
) -> None:
    written = refresh_script().write_schemas(FOLDER / "openapi.json", tmp_path)
    names = {path.name for path in written}
    assert names == {*BODIES.values(), "index.json"}
    committed = {path.name for path in FOLDER.glob("*.json")} - {"openapi.json"}
    assert committed == names, "a schema in the folder that the script no longer derives"
    for name in sorted(names):
        assert (tmp_path / name).read_bytes() == (FOLDER / name).read_bytes(), name


def test_the_committed_readme_is_the_one_the_script_writes_for_the_committed_spec() -> None:
    expected = refresh_script()._readme(OPENAPI)
    assert (FOLDER / "README.md").read_text(encoding="utf-8") == expected
