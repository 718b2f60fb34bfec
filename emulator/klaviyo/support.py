"""Which query options of each operation the fake Klaviyo emulates, and which it refuses as not emulated.

The spec lists every ``include``, ``sort`` and ``filter`` field an operation takes; ``query.parse`` refuses
anything outside it as Klaviyo does (400 ``invalid``). Of what the spec allows, a few options name resources
this emulator does not model at all (conversations, push tokens, segments, flows, tags, attributions, list
suppressions). Answering those with an empty result would look like Klaviyo's answer for an account without
them, so they are refused by name instead (400 ``not_emulated``, ``NotEmulated``). Everything else the spec
allows is emulated: the handlers' filter fields and sort keys cover it, and a test walks the spec to prove it.
"""

from __future__ import annotations

_LIST_SUPPRESSIONS = "subscriptions.email.marketing.list_suppressions"

#: operation id -> query parameter (``include``, ``sort``, ``filter``) -> values (for ``filter``: fields) that are
#: valid for Klaviyo but not emulated here. ``sort`` values are given without their ``-``.
NOT_EMULATED: dict[str, dict[str, frozenset[str]]] = {
    "get_profiles": {
        "include": frozenset({"conversations", "push-tokens"}),
        "filter": frozenset({f"{_LIST_SUPPRESSIONS}.{name}" for name in ("reason", "timestamp", "list_id")}),
        "sort": frozenset({f"{_LIST_SUPPRESSIONS}.timestamp"}),
    },
    "get_profile": {"include": frozenset({"conversations", "push-tokens", "segments"})},
    "get_events": {"include": frozenset({"attributions"})},
    "get_event": {"include": frozenset({"attributions"})},
    "get_metrics": {"include": frozenset({"flow-triggers"})},
    "get_metric": {"include": frozenset({"flow-triggers"})},
    "get_list": {"include": frozenset({"flow-triggers", "tags"})},
    "get_profiles_for_list": {"filter": frozenset({"push_token"})},
}

_WHY = {
    "conversations": "SMS conversations",
    "push-tokens": "push tokens",
    "segments": "segments",
    "attributions": "flow and campaign attributions",
    "flow-triggers": "flows",
    "tags": "tags",
    "push_token": "push tokens",
}


def refused(operation_id: str, parameter: str, value: str) -> str | None:
    """Why ``value`` of ``parameter`` is not emulated for this operation, or None when it is."""
    table = NOT_EMULATED.get(operation_id, {}).get(parameter, frozenset())
    name = value.lstrip("-") if parameter == "sort" else value
    if name not in table:
        return None
    what = _WHY.get(name, "list suppressions")
    return (
        f"{parameter} '{value}' is valid for Klaviyo, but this emulator does not model {what}, so it refuses "
        "the option rather than answer as if there were none (see docs/emulator.md)."
    )
