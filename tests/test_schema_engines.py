"""contracts decides validity with jsonschema-rs and explains with jsonschema: the two must agree."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

import contracts
from emulator.trifft import generate

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))] or [path]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, (*path, i))] or [path]
    return [path]


def _other_type(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return "x"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 12
    return None


def _break(event: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    broken = copy.deepcopy(event)
    path = rng.choice(_leaves(broken))
    target = broken
    for key in path[:-1]:
        target = target[key]
    if rng.random() < 0.2 and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = _other_type(target[path[-1]])
    return broken


def _agree(schema: contracts.Schema, instance: Any) -> None:
    fast = schema.is_valid(instance)
    slow = schema._explainer.is_valid(instance)
    assert fast == slow, (schema.id, instance)
    assert (schema.validate(instance) == []) == fast


@pytest.mark.parametrize("edge", [False, True], ids=["realistic", "edge"])
def test_both_engines_agree_on_generated_and_broken_events(edge: bool) -> None:
    schema = contracts.event_schema()
    rng = random.Random(3)
    for event in generate(400, seed=8, edge=edge, members=20):
        _agree(schema, event)
        _agree(schema, _break(event, rng))


def test_both_engines_agree_on_every_metric_fixture_and_its_broken_copies() -> None:
    rng = random.Random(4)
    for path in sorted((FIXTURES / "metrics").glob("*.json")):
        schema = contracts.metric_schema(path.stem)
        payload = json.loads(path.read_text(encoding="utf-8"))
        _agree(schema, payload)
        for _ in range(20):
            _agree(schema, _break(payload, rng))


def test_a_broken_event_is_refused_by_both_and_explained() -> None:
    event = next(generate(1, seed=1))
    event["member"]["points"] = "lots"
    schema = contracts.event_schema()
    assert not schema.is_valid(event)
    assert [(v.pointer, v.rule) for v in schema.validate(event)] == [("/member/points", "type")]


def test_numbers_too_big_for_the_compiled_engine_are_still_judged() -> None:
    event = next(generate(1, seed=1))
    event["member"]["points"] = 2**80
    assert contracts.event_schema().is_valid(event)
    event["sequence"] = -(2**80)
    assert [(v.pointer, v.rule) for v in contracts.event_schema().validate(event)] == [
        ("/sequence", "minimum")
    ]
