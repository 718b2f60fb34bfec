"""Refresh contract 4: Klaviyo's request-body JSON Schemas, derived from Klaviyo's published OpenAPI spec.

    python scripts/refresh_klaviyo_spec.py --spec PATH/TO/klaviyo-openapi/stable.json

Two stages, each also callable on its own:

slice    stable.json (+ SOURCE, LICENSE beside it) -> contracts/schemas/klaviyo/<revision>/openapi.json,
         LICENSE, README.md. Keeps the operations the sync core and the emulator use and every component they
         reference, untouched; records the upstream commit as the top-level ``x-trifft-source``.
convert  openapi.json -> one JSON Schema (draft 2020-12) per operation with a request body, plus index.json.
         Reads nothing but openapi.json, so the committed schemas can be re-derived (and diffed) offline.

OpenAPI 3.0 Schema Object -> JSON Schema 2020-12, as ``convert`` does it:

- ``nullable: true`` beside ``type`` and only type-local keywords: ``type`` becomes ``[type, "null"]``
  and ``null`` joins an ``enum``.
- ``nullable: true`` beside ``$ref``/``allOf``/``anyOf``/``oneOf``/``not``, or without ``type`` (Klaviyo
  writes ``{"$ref": ..., "nullable": true}`` and ``{"oneOf": [...], "nullable": true}``): the schema's
  assertions move into ``{"if": {"type": "null"}, "else": <them>}``; annotations stay beside it. That
  accepts exactly what ``{"anyOf": [<them>, {"type": "null"}]}`` accepts: ``null``, or a value that still
  satisfies every sibling (``nullable`` neither switches validation off nor becomes a bare
  ``type: "null"``). ``if``/``else`` rather than ``anyOf`` because a validator then reports a broken value
  at its own pointer with the failing keyword, not as "is not of type 'null'" one level up.
- ``$ref`` siblings (``description``, ``example``, ``nullable``) are honoured, as Klaviyo means them,
  although OpenAPI 3.0 says they are ignored.
- ``example`` -> ``examples: [example]``; boolean ``exclusiveMinimum``/``exclusiveMaximum`` -> numeric.
- ``discriminator``, ``xml``, ``externalDocs`` and ``x-*`` are dropped. ``format``, ``readOnly``,
  ``writeOnly``, ``deprecated``, ``default`` stay, as annotations.
- ``readOnly`` properties are response-only (OpenAPI 3.0: "SHOULD NOT be sent as part of the request"; a
  ``required`` naming one "will take effect on the response only"): in a request schema they are taken out
  of ``required`` and kept, annotated. None occurs in the request bodies of revision 2026-07-15.
- Any other keyword stops the run: a refresh must not silently lose a constraint.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "contracts" / "schemas"
BASE = "https://trifft-klaviyo.invalid/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
UPSTREAM = "klaviyo/openapi"
UPSTREAM_FILE = "openapi/stable.json"
COMMAND = "python scripts/refresh_klaviyo_spec.py --spec PATH/TO/klaviyo-openapi/stable.json"

#: The operations TRIFFT's integration and the emulator use: event and profile writes, their reads, bulk jobs,
#: the import job's sub-resources and the lists that subscription and import jobs name.
OPERATIONS: tuple[str, ...] = (
    "create_event",
    "bulk_create_events",
    "get_events",
    "get_event",
    "get_metrics",
    "get_metric",
    "create_or_update_profile",
    "create_profile",
    "get_profiles",
    "get_profile",
    "update_profile",
    "bulk_import_profiles",
    "get_bulk_import_profiles_job",
    "bulk_subscribe_profiles",
    "bulk_unsubscribe_profiles",
    # The import job's list and sub-resources, and the minimal lists subscription and import jobs name.
    "get_bulk_import_profiles_jobs",
    "get_errors_for_bulk_import_profiles_job",
    "get_profiles_for_bulk_import_profiles_job",
    "get_list_for_bulk_import_profiles_job",
    "create_list",
    "get_list",
    "get_profiles_for_list",
)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON_MEDIA_TYPES = ("application/vnd.api+json", "application/json")

# OpenAPI 3.0 Schema Object keywords that mean the same in JSON Schema 2020-12.
_SAME = frozenset(
    {
        "title", "description", "default", "deprecated", "readOnly", "writeOnly", "format", "type", "enum",
        "multipleOf", "maximum", "minimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
        "uniqueItems", "maxProperties", "minProperties", "required",
    }
)  # fmt: skip
_SUBSCHEMA = frozenset({"items", "not", "additionalProperties"})
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_DROPPED = frozenset({"discriminator", "xml", "externalDocs"})
_ANNOTATIONS = ("title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly")
_APPLICATORS = frozenset({"$ref", "allOf", "anyOf", "oneOf", "not"})


class SpecError(ValueError):
    """The spec is not what this script knows how to slice or convert; says where."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where the spec came from: the upstream commit and its date (ISO 8601)."""

    commit: str
    date: str

    @classmethod
    def parse(cls, text: str) -> Source:
        """Read a SOURCE file: ``<40-hex commit> <git date, e.g. Thu Jul 23 13:07:25 2026 +0000>``."""
        commit, _, when = text.strip().partition(" ")
        if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit):
            raise SpecError(f"SOURCE: not a commit id: {commit!r}")
        date = datetime.strptime(when.strip(), "%a %b %d %H:%M:%S %Y %z").isoformat()
        return cls(commit, date)


# ------------------------------------------------------------------------------------------------ slice


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _component(ref: str) -> tuple[str, str]:
    parts = ref.split("/")
    if len(parts) != 4 or parts[:2] != ["#", "components"]:
        raise SpecError(f"unsupported $ref {ref!r}: only #/components/<kind>/<name> is handled")
    return parts[2], parts[3].replace("~1", "/").replace("~0", "~")


def _closure(spec: Mapping[str, Any], roots: Iterable[Any]) -> set[tuple[str, str]]:
    """Every (kind, name) component reachable from ``roots`` through ``$ref``s."""
    components = spec.get("components", {})
    seen: set[tuple[str, str]] = set()
    todo = [_component(ref) for root in roots for ref in _refs(root)]
    while todo:
        kind, name = todo.pop()
        if (kind, name) in seen:
            continue
        try:
            target = components[kind][name]
        except KeyError:
            raise SpecError(f"dangling $ref #/components/{kind}/{name}") from None
        seen.add((kind, name))
        todo.extend(_component(ref) for ref in _refs(target))
    return seen


def _operations(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def slice_spec(
    spec: Mapping[str, Any], source: Source, operations: Iterable[str] = OPERATIONS
) -> dict[str, Any]:
    """The part of ``spec`` that ``operations`` need, as a valid OpenAPI document in the spec's own order.

    Operations are copied whole (parameters, requestBody, responses, ``x-klaviyo-*``); so are ``info`` and
    ``servers``. Components are the transitive closure of what the kept operations, path items and the
    top-level ``security`` refer to; security schemes named by ``security`` are kept too.
    """
    wanted = list(operations)
    found = {op.get("operationId"): (path, method) for path, method, op in _operations(spec)}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise SpecError(f"operationIds not in the spec: {', '.join(missing)}")
    keep = {found[name] for name in wanted}

    paths: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        kept = {
            key: copy.deepcopy(value)
            for key, value in item.items()
            if (path, key) in keep or (key not in HTTP_METHODS and any(p == path for p, _ in keep))
        }
        if any(key in HTTP_METHODS for key in kept):
            paths[path] = kept

    security = spec.get("security", [])
    ops = [op for item in paths.values() for key, op in item.items() if key in HTTP_METHODS]
    needed = _closure(spec, [paths])
    schemes = {name for requirement in security for name in requirement}
    schemes |= {name for op in ops for requirement in op.get("security", []) for name in requirement}
    needed |= {("securitySchemes", name) for name in schemes}

    components: dict[str, Any] = {}
    for kind, table in spec.get("components", {}).items():
        chosen = {name: copy.deepcopy(body) for name, body in table.items() if (kind, name) in needed}
        if chosen:
            components[kind] = chosen

    used_tags = {tag for op in ops for tag in op.get("tags", [])}
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "paths":
            out[key] = paths
        elif key == "components":
            out[key] = components
        elif key == "tags":
            out[key] = [copy.deepcopy(tag) for tag in value if tag.get("name") in used_tags]
        else:
            out[key] = copy.deepcopy(value)
    out["x-trifft-source"] = {
        "repository": UPSTREAM,
        "file": UPSTREAM_FILE,
        "commit": source.commit,
        "date": source.date,
        "operations": wanted,
        "sliced-by": "scripts/refresh_klaviyo_spec.py",
    }
    return out


def _readme(spec: Mapping[str, Any]) -> str:
    revision = spec["info"]["version"]
    source = spec["x-trifft-source"]
    by_id = {op["operationId"]: (method, path, op) for path, method, op in _operations(spec)}
    rows = "\n".join(
        f"| `{name}` | `{method.upper()} {path}` | {f'`{name}.json`' if 'requestBody' in op else '-'} |"
        for name in source["operations"]
        for method, path, op in [by_id[name]]
    )
    return f"""# Klaviyo API {revision}: trimmed OpenAPI spec and request-body schemas

Contract 4 of `contracts/`: what Klaviyo accepts as a request body, for the endpoints the TRIFFT sync and the
emulator use. Everything in this folder is generated; do not edit it by hand.

- `openapi.json`: Klaviyo's OpenAPI {spec["openapi"]} spec, revision {revision}, sliced to the operations
  below and every component they reference, otherwise as published (parameters, request bodies, responses,
  `x-klaviyo-*`). `x-trifft-source` records where it came from. The emulator routes and validates from it.
- `<operationId>.json`: one JSON Schema (draft 2020-12) per operation with a request body, derived from
  `openapi.json` alone; `contracts.endpoint_schema(method, path)` finds them through `index.json`.
- `index.json`: revision, provenance, `request_bodies` ("METHOD /path" -> file) and, per operation, method,
  path, rate limits (`x-klaviyo-ratelimit`) and scopes (`x-klaviyo-scopes`).
- `LICENSE`: Klaviyo's licence for the spec (MIT), verbatim.

| operationId | endpoint | request-body schema |
| --- | --- | --- |
{rows}

Provenance: <https://github.com/{source["repository"]}>, file `{source["file"]}`,
commit `{source["commit"]}` ({source["date"]}).

How OpenAPI 3.0 became JSON Schema 2020-12 (the script's docstring has the details):

- `nullable` beside `type` adds `"null"` to the type (and to an `enum`). Beside `$ref`, `oneOf` or `allOf`,
  or without `type`, it becomes `{{"if": {{"type": "null"}}, "else": <the siblings>}}`: `null` passes and any
  other value must still satisfy the siblings.
- `example` becomes `examples`; `format` is an annotation, not asserted.
- `readOnly` properties are response-only, so never required in a request (none occurs in these bodies).
- Klaviyo's spec sets no `additionalProperties`, so unknown members are accepted, as the spec says.

Refresh, from the repository root, with `SOURCE` (upstream commit and date) and `LICENSE` beside the spec:

    {COMMAND}

A new revision lands in a new folder; `KLAVIYO_REVISION` in `contracts/_schemas.py` then has to follow.
"""


def write_slice(spec_path: Path, out_root: Path = SCHEMAS / "klaviyo") -> Path:
    """Stage a: slice ``spec_path`` into ``out_root/<revision>/``; returns that folder."""
    here = spec_path.parent
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    source = Source.parse((here / "SOURCE").read_text(encoding="utf-8"))
    sliced = slice_spec(spec, source)
    folder: Path = out_root / sliced["info"]["version"]
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / "openapi.json", sliced)
    shutil.copyfile(here / "LICENSE", folder / "LICENSE")
    (folder / "README.md").write_text(_readme(sliced), encoding="utf-8")
    return folder


# ---------------------------------------------------------------------------------------------- convert


def _def_ref(ref: str) -> str:
    kind, name = _component(ref)
    if kind != "schemas":
        raise SpecError(f"a schema refers to #/components/{kind}/{name}")
    return "#/$defs/" + name.replace("~", "~0").replace("/", "~1")


def convert_schema(node: Any, where: str = "#") -> Any:
    """One OpenAPI 3.0 Schema Object as JSON Schema 2020-12, for a request body (rules in the module doc)."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        raise SpecError(f"{where}: a schema must be an object, not {node!r}")
    out: dict[str, Any] = {}
    for key, value in node.items():
        at = f"{where}/{key}"
        if key == "$ref":
            out[key] = _def_ref(value)
        elif key == "properties":
            out[key] = {name: convert_schema(sub, f"{at}/{name}") for name, sub in value.items()}
        elif key in _SUBSCHEMA:
            out[key] = convert_schema(value, at)
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [convert_schema(sub, f"{at}/{i}") for i, sub in enumerate(value)]
        elif key == "example":
            out["examples"] = [copy.deepcopy(value)]
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value is True:
                if bound not in node:
                    raise SpecError(f"{at}: exclusive bound without {bound}")
                out[key] = node[bound]
        elif key in _SAME:
            out[key] = copy.deepcopy(value)
        elif key == "nullable" or key in _DROPPED or key.startswith("x-"):
            continue
        else:
            raise SpecError(f"{at}: OpenAPI keyword {key!r} is not handled by this script")
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        if node.get(key) is True:
            out.pop("minimum" if key == "exclusiveMinimum" else "maximum", None)
    if "properties" in out and "required" in out:
        response_only = {name for name, sub in out["properties"].items() if _is_read_only(sub)}
        out["required"] = [name for name in out["required"] if name not in response_only]
        if not out["required"]:
            del out["required"]
    return _nullable(out) if node.get("nullable") is True else out


def _is_read_only(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("readOnly") is True


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str) and not _APPLICATORS & schema.keys():
        out = {**schema, "type": [kind, "null"]}
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return out
    annotations = {key: schema[key] for key in _ANNOTATIONS if key in schema}
    assertions = {key: value for key, value in schema.items() if key not in annotations}
    if not assertions:
        return schema  # already accepts null
    return {**annotations, "if": {"type": "null"}, "else": assertions}


def _json_body(operation: Mapping[str, Any], spec: Mapping[str, Any]) -> Any:
    body = operation["requestBody"]
    if "$ref" in body:
        kind, name = _component(body["$ref"])
        body = spec["components"][kind][name]
    for media in JSON_MEDIA_TYPES:
        if media in body.get("content", {}):
            return body["content"][media]["schema"]
    raise SpecError(f"{operation['operationId']}: no JSON request body in {sorted(body.get('content', {}))}")


def convert(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Stage b: the files derived from a sliced spec, by name (``<operationId>.json`` and ``index.json``)."""
    revision = spec["info"]["version"]
    source = spec["x-trifft-source"]
    folder = f"klaviyo/{revision}"
    files: dict[str, Any] = {}
    request_bodies: dict[str, str] = {}
    operations: list[dict[str, Any]] = []
    for path, method, op in _operations(spec):
        name = op["operationId"]
        entry: dict[str, Any] = {
            "operationId": name,
            "method": method.upper(),
            "path": path,
            "summary": op.get("summary", ""),
            "x-klaviyo-ratelimit": op.get("x-klaviyo-ratelimit", {}),
            "scopes": op.get("x-klaviyo-scopes", []),
            "request_body": None,
        }
        if "requestBody" in op:
            file = f"{name}.json"
            entry["request_body"] = file
            request_bodies[f"{method.upper()} {path}"] = file
            files[file] = _body_schema(spec, folder, path, method, op, source)
        operations.append(entry)
    order = {name: i for i, name in enumerate(source["operations"])}
    operations.sort(key=lambda e: order.get(e["operationId"], len(order)))
    files["index.json"] = {
        "revision": revision,
        "source": {key: source[key] for key in ("repository", "file", "commit", "date")},
        "generated_by": COMMAND,
        "request_bodies": dict(
            sorted(request_bodies.items(), key=lambda kv: order[kv[1].removesuffix(".json")])
        ),
        "operations": operations,
    }
    return files


def _body_schema(
    spec: Mapping[str, Any],
    folder: str,
    path: str,
    method: str,
    op: Mapping[str, Any],
    source: Mapping[str, Any],
) -> dict[str, Any]:
    name = op["operationId"]
    root = _json_body(op, spec)
    needed = sorted(n for kind, n in _closure(spec, [root]) if kind == "schemas")
    component = f" from #/components/schemas/{root['$ref'].rsplit('/', 1)[1]}" if "$ref" in root else ""
    converted = convert_schema(root, f"#/paths/{path}/{method}/requestBody")
    return {
        "$schema": DIALECT,
        "$id": f"{BASE}{folder}/{name}.json",
        "title": f"Klaviyo {op.get('summary', name)}: request body ({method.upper()} {path})",
        "description": (
            f"Request body of Klaviyo operation {name} ({method.upper()} {path}), API revision "
            f"{spec['info']['version']}. Derived{component} in Klaviyo's OpenAPI spec "
            f"({source['repository']} {source['file']} at {source['commit'][:7]}) by "
            "scripts/refresh_klaviyo_spec.py; do not edit by hand."
        ),
        **converted,
        "$defs": {
            n: convert_schema(spec["components"]["schemas"][n], f"#/components/schemas/{n}") for n in needed
        },
    }


def write_schemas(openapi_path: Path, out_dir: Path | None = None) -> list[Path]:
    """Stage b: write the files ``convert`` derives from ``openapi_path`` (default: beside it)."""
    folder = out_dir or openapi_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    files = convert(json.loads(openapi_path.read_text(encoding="utf-8")))
    written = []
    for name, body in files.items():
        _write_json(folder / name, body)
        written.append(folder / name)
    return written


def _write_json(path: Path, body: Any) -> None:
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--spec", type=Path, help="Klaviyo's stable.json, with SOURCE and LICENSE beside it")
    parser.add_argument("--out", type=Path, default=SCHEMAS / "klaviyo", help="folder of revision folders")
    parser.add_argument(
        "--convert-only",
        type=Path,
        metavar="OPENAPI_JSON",
        help="skip slicing: derive the schemas from this already sliced openapi.json",
    )
    args = parser.parse_args(argv)
    try:
        if args.convert_only:
            openapi = args.convert_only
        elif args.spec:
            openapi = write_slice(args.spec, args.out) / "openapi.json"
        else:
            parser.error("give --spec (slice and convert) or --convert-only")
        for path in write_schemas(openapi):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    except (SpecError, OSError, json.JSONDecodeError) as exc:
        print(f"refresh_klaviyo_spec: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
