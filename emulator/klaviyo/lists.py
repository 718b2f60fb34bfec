"""Lists, as far as subscription and import jobs need them: create one, read it, read who is on it.

A list has a name and an opt-in process (``double_opt_in`` or ``single_opt_in``). "If not provided, uses account
default" (``opt_in_process`` in ListCreateQueryResourceObject, stable.json 2026-07-15), and Klaviyo's own default
is double opt-in: "Lists are set to double opt-in by default in all Klaviyo accounts"
(https://help.klaviyo.com/hc/en-us/articles/115005251108). Profiles join a list when a subscription to it takes
effect (``consent``) or a bulk import names it (``imports``); Klaviyo's API cannot change a list's opt-in process
after it is created, so the control API does (``PUT /_emulator/lists/{id}/opt-in``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from . import filters, ids, resources
from .errors import InvalidInput, NotFound, Problem
from .query import page
from .types import Context, Reply

OPT_IN_PROCESSES = ("double_opt_in", "single_opt_in")


def opt_in_default(ctx: Context) -> str:
    """The account's default opt-in process: its own setting, else the emulator's (``Emulator.opt_in``)."""
    return ctx.tx.account_opt_in(ctx.account) or ctx.opt_in


def existing(ctx: Context, list_id: str, pointer: str | None = None) -> sqlite3.Row:
    """The account's list of that id; 404 ``not_found`` naming it (at ``pointer`` in the body, if given)."""
    row = ctx.tx.list_(ctx.account, list_id)
    if row is None:
        raise NotFound(Problem(f"A list with id {list_id} does not exist.", pointer=pointer))
    return row


def resource(
    ctx: Context, row: sqlite3.Row, fields: list[str] | None = None, count: bool = False
) -> dict[str, Any]:
    """A list as Klaviyo's ``list`` resource; ``count`` adds ``profile_count`` (additional-fields[list])."""
    attributes: dict[str, Any] = {
        "name": row["name"],
        "created": resources.stamp(row["created"]),
        "updated": resources.stamp(row["updated"]),
        "opt_in_process": row["opt_in_process"],
    }
    if count:
        attributes["profile_count"] = ctx.tx.member_count(ctx.account, row["id"])
    link = f"{ctx.base}/api/lists/{row['id']}/"
    return {
        "type": "list",
        "id": row["id"],
        "attributes": resources.sparse(attributes, fields),
        "relationships": {
            name: {"links": {"self": f"{link}relationships/{name}/", "related": f"{link}{name}/"}}
            for name in ("profiles", "tags", "flow-triggers")
        },
        "links": {"self": link},
    }


def create_list(ctx: Context) -> Reply:
    attributes = ctx.body["data"]["attributes"]
    name = attributes["name"]
    if not name.strip():
        raise InvalidInput(Problem("A list needs a name.", pointer="/data/attributes/name"))
    list_id = ids.metric_id()  # Klaviyo's list ids look like its metric ids: six characters, e.g. Y6nRLr
    while ctx.tx.list_(ctx.account, list_id) is not None:
        list_id = ids.metric_id()
    opt_in = attributes.get("opt_in_process") or opt_in_default(ctx)
    ctx.tx.insert_list(ctx.account, list_id, name, opt_in, ctx.now)
    row = existing(ctx, list_id)
    return Reply(201, {"data": resource(ctx, row, ctx.query.fields.get("list")), "links": {"self": ctx.url}})


def get_list(ctx: Context) -> Reply:
    row = existing(ctx, ctx.path["id"])
    count = "profile_count" in ctx.query.additional.get("list", [])
    return Reply(
        200, {"data": resource(ctx, row, ctx.query.fields.get("list"), count), "links": {"self": ctx.url}}
    )


def _member_fields(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "email": row["email"],
        "phone_number": row["phone_number"],
        "_kx": row["kx"],
        "joined_group_at": resources.stamp(row["joined"]),
    }


_MEMBER_SORT: dict[str, Callable[[sqlite3.Row], Any]] = {"joined_group_at": lambda r: r["joined"]}


def get_profiles_for_list(ctx: Context) -> Reply:
    existing(ctx, ctx.path["id"])
    rows = [
        row
        for row in ctx.tx.members(ctx.account, ctx.path["id"])
        if filters.matches(ctx.query.filter, _member_fields(row))
    ]
    if ctx.query.sort:
        rows.sort(key=_MEMBER_SORT[ctx.query.sort.lstrip("-")], reverse=ctx.query.sort.startswith("-"))
    shown, links = page(rows, ctx.query, ctx.url, default_size=20)
    fields, additional = ctx.query.fields.get("profile"), ctx.query.additional.get("profile")
    data = []
    for row in shown:
        member = resources.profile(row, ctx.base, None, additional)
        member["attributes"]["joined_group_at"] = resources.stamp(row["joined"])
        member["attributes"] = resources.sparse(member["attributes"], fields)
        data.append(member)
    return Reply(200, {"data": data, "links": links})


HANDLERS = {
    "create_list": create_list,
    "get_list": get_list,
    "get_profiles_for_list": get_profiles_for_list,
}
