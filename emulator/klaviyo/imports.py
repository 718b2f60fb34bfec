"""Bulk profile import jobs: ``POST /api/profile-bulk-import-jobs``, the job, the job list and its sub-resources.

Each profile is the same object Create or Update Profile takes, with one difference the Bulk Import Profiles
guide states: "The Bulk Import Profiles API does not support setting fields to null to clear them. Only fields
explicitly provided with non-null values will be updated." (https://developers.klaviyo.com/en/docs/
use_klaviyos_bulk_profile_import_api). A profile that cannot be imported (an invalid email, no identifier, an
identifier another profile holds, over 100 KB) does not fail the job: it is counted in ``failed_count`` and listed
under the job's ``import-errors``, each error with its ``code``, ``title``, ``detail``, ``source.pointer`` and the
``original_payload`` (ImportErrorResponseObjectResource, stable.json). Lists named in ``relationships.lists``
receive every imported profile; their consent is not changed.

Klaviyo runs the job asynchronously. The emulator applies it when it is accepted (reads right after see the
result) and lets the job's status advance by polling it: created ``queued``, the first ``GET`` of the job shows
``processing``, later ones ``complete`` with its counts. The job list and the sub-resources do not advance it.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from . import filters, ids, lists, profiles, resources
from .errors import DuplicateProfile, InvalidInput, KlaviyoError, NotFound, Problem
from .query import page
from .store import dumps
from .types import Context, Reply

KIND = "profile-bulk-import-job"
MAX_IMPORT_PROFILES = 10_000
MAX_PROFILE_BYTES = 100 * 1024
#: How long a job can be read: Klaviyo shows ``expires_at`` but publishes no figure (docs/emulator.md).
EXPIRES_AFTER = 7 * 86_400
_ATTRIBUTES = (
    "status",
    "created_at",
    "total_count",
    "completed_count",
    "failed_count",
    "completed_at",
    "expires_at",
    "started_at",
)


def written(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes a bulk import writes: every non-null value, inside ``location`` and ``properties`` too."""
    kept: dict[str, Any] = {}
    for name, value in attributes.items():
        if value is None:
            continue
        if name in ("location", "properties") and isinstance(value, dict):
            value = {key: item for key, item in value.items() if item is not None}
        kept[name] = value
    return kept


def _job(ctx: Context, job_id: str) -> tuple[sqlite3.Row, dict[str, Any]]:
    row = ctx.tx.job(ctx.account, job_id, KIND)
    if row is None:
        raise NotFound(f"A profile bulk import job with id {job_id} does not exist.")
    doc: dict[str, Any] = json.loads(row["doc"])
    return row, doc


def _resource(ctx: Context, job_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    link = f"{ctx.base}/api/profile-bulk-import-jobs/{job_id}/"
    relationships: dict[str, Any] = {
        name: {"links": {"self": f"{link}relationships/{name}/", "related": f"{link}{name}/"}}
        for name in ("lists", "profiles", "import-errors")
    }
    relationships["lists"]["data"] = [{"type": "list", "id": list_id} for list_id in doc.get("lists", [])]
    return {
        "type": KIND,
        "id": job_id,
        "attributes": resources.sparse({k: doc[k] for k in _ATTRIBUTES}, ctx.query.fields.get(KIND)),
        "relationships": relationships,
        "links": {"self": link},
    }


def _row_problems(ctx: Context, row: dict[str, Any], pointer: str) -> list[Problem]:
    if len(dumps(row).encode()) > MAX_PROFILE_BYTES:
        return [Problem("Each profile of an import job can be at most 100 KB.", pointer=pointer)]
    attributes = row.get("attributes") or {}
    problems = profiles.identifier_problems(attributes, f"{pointer}/attributes")
    problems += profiles.patch_problems(row.get("meta"), f"{pointer}/meta")
    profile_id = row.get("id")
    if profile_id is None and all(attributes.get(n) is None for n in profiles.IDENTIFIERS):
        problems.append(Problem("A profile needs at least one identifier.", pointer=f"{pointer}/attributes"))
    if profile_id is not None and ctx.tx.profile(ctx.account, profile_id) is None:
        problems.append(Problem(f"A profile with id {profile_id} does not exist.", pointer=f"{pointer}/id"))
    return problems


def _import_errors(row: dict[str, Any], error: KlaviyoError) -> list[dict[str, Any]]:
    return [
        {
            "id": str(uuid.uuid4()),
            "code": error.code,
            "title": error.title,
            "detail": problem.detail,
            "source": {"pointer": problem.pointer},
            "original_payload": row,
        }
        for problem in error.problems
    ]


def bulk_import_profiles(ctx: Context) -> Reply:
    data = ctx.body["data"]
    rows = data["attributes"]["profiles"]["data"]
    base = "/data/attributes/profiles/data"
    if len(rows) > MAX_IMPORT_PROFILES:
        raise InvalidInput(
            Problem(
                f"An import job accepts at most {MAX_IMPORT_PROFILES:,} profiles; this one has {len(rows):,}.",
                pointer=base,
            )
        )
    named = [
        lists.existing(ctx, relation["id"], f"/data/relationships/lists/data/{j}/id")["id"]
        for j, relation in enumerate(((data.get("relationships") or {}).get("lists") or {}).get("data") or [])
    ]
    job_id = ids.ulid(ctx.now)
    errors: list[dict[str, Any]] = []
    imported: list[str] = []
    for i, row in enumerate(rows):
        problems = _row_problems(ctx, row, f"{base}/{i}")
        error: KlaviyoError = InvalidInput(*problems)
        if not problems:
            try:
                attributes = written(row.get("attributes") or {})
                stored, _ = profiles.upsert(
                    ctx, row.get("id"), attributes, row.get("meta"), f"{base}/{i}", True
                )
            except DuplicateProfile as conflict:
                error = conflict
            else:
                imported.append(stored["id"])
                for list_id in named:
                    ctx.tx.add_member(ctx.account, list_id, stored["id"], ctx.now)
                continue
        reason = "; ".join(p.detail for p in error.problems)
        ctx.done(f"{base}/{i}", "failed", reason=reason)
        errors += _import_errors(row, error)
        for problem in error.problems:
            ctx.note("import_row_failed", problem.detail, job_id, row=i, pointer=problem.pointer)
    doc = {
        "status": "queued",
        "created_at": resources.stamp(ctx.now),
        "total_count": len(rows),
        "completed_count": 0,
        "failed_count": 0,
        "completed_at": None,
        "started_at": None,
        "expires_at": resources.stamp(ctx.now + EXPIRES_AFTER),
        "reads": 0,
        "result": {"completed_count": len(imported), "failed_count": len(rows) - len(imported)},
        "errors": errors,
        "profiles": imported,
        "lists": named,
    }
    ctx.tx.insert_job(ctx.account, job_id, KIND, doc, ctx.now)
    return Reply(202, {"data": _resource(ctx, job_id, doc), "links": {"self": ctx.url}})


def get_bulk_import_profiles_job(ctx: Context) -> Reply:
    job_id = ctx.path["job_id"]
    _, doc = _job(ctx, job_id)
    doc["reads"] += 1
    if doc["status"] == "queued":
        doc.update(status="processing", started_at=resources.stamp(ctx.now))
    elif doc["status"] == "processing":
        doc.update(status="complete", completed_at=resources.stamp(ctx.now), **doc["result"])
    ctx.tx.update_job(ctx.account, job_id, doc)
    body: dict[str, Any] = {"data": _resource(ctx, job_id, doc), "links": {"self": ctx.url}}
    if "lists" in ctx.query.include:
        body["included"] = _lists(ctx, doc)
    return Reply(200, body)


def get_bulk_import_profiles_jobs(ctx: Context) -> Reply:
    found = []
    for row in ctx.tx.jobs(ctx.account, KIND):
        doc = json.loads(row["doc"])
        if filters.matches(ctx.query.filter, {"status": doc["status"]}):
            found.append((row, doc))
    if ctx.query.sort:
        found.sort(
            key=lambda item: (item[0]["created"], item[0]["id"]), reverse=ctx.query.sort.startswith("-")
        )
    shown, links = page(found, ctx.query, ctx.url, default_size=20)
    return Reply(200, {"data": [_resource(ctx, row["id"], doc) for row, doc in shown], "links": links})


def get_errors_for_bulk_import_profiles_job(ctx: Context) -> Reply:
    job_id = ctx.path["id"]
    _, doc = _job(ctx, job_id)
    shown, links = page(doc.get("errors", []), ctx.query, ctx.url, default_size=20)
    wanted = ctx.query.fields.get("import-error")
    data = [
        {
            "type": "import-error",
            "id": error.get("id") or f"{job_id}-{n}",
            "attributes": resources.sparse({k: v for k, v in error.items() if k != "id"}, wanted),
        }
        for n, error in enumerate(shown)
    ]
    return Reply(200, {"data": data, "links": links})


def get_profiles_for_bulk_import_profiles_job(ctx: Context) -> Reply:
    _, doc = _job(ctx, ctx.path["id"])
    rows = [row for profile_id in doc.get("profiles", []) if (row := ctx.tx.profile(ctx.account, profile_id))]
    shown, links = page(rows, ctx.query, ctx.url, default_size=20)
    fields, additional = ctx.query.fields.get("profile"), ctx.query.additional.get("profile")
    return Reply(
        200, {"data": [resources.profile(row, ctx.base, fields, additional) for row in shown], "links": links}
    )


def _lists(ctx: Context, doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [row for list_id in doc.get("lists", []) if (row := ctx.tx.list_(ctx.account, list_id))]
    return [lists.resource(ctx, row, ctx.query.fields.get("list")) for row in rows]


def get_list_for_bulk_import_profiles_job(ctx: Context) -> Reply:
    _, doc = _job(ctx, ctx.path["id"])
    return Reply(200, {"data": _lists(ctx, doc), "links": {"self": ctx.url}})


HANDLERS = {
    "bulk_import_profiles": bulk_import_profiles,
    "get_bulk_import_profiles_job": get_bulk_import_profiles_job,
    "get_bulk_import_profiles_jobs": get_bulk_import_profiles_jobs,
    "get_errors_for_bulk_import_profiles_job": get_errors_for_bulk_import_profiles_job,
    "get_profiles_for_bulk_import_profiles_job": get_profiles_for_bulk_import_profiles_job,
    "get_list_for_bulk_import_profiles_job": get_list_for_bulk_import_profiles_job,
}
