"""The Twig-style renderer reproduces TRIFFT's webhook bodies, including the ones that are not JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from emulator.trifft._twig import render

EPOCH = 1_772_355_600  # 2026-03-01T09:00:00Z

MEMBER: dict[str, Any] = {
    "id": "7c1d0b2e-3f4a-4b5c-8d6e-9f0a1b2c3d4e",
    "email": "jane.doe@example.com",
    "points": 12.5,
    "param": {"first_name": "Jane", "dateOfBirth": None, "newsletter": True, "vip": False},
}


def _render(template: str, **member: Any) -> str:
    return render(template, {"member": MEMBER | member, "event": {"id": "e-1", "created_at": EPOCH}})


def test_paths_are_substituted_with_or_without_spaces_inside_the_braces() -> None:
    body = _render(
        '{"id": "{{ member.id }}", "email": "{{member.email}}", "name": "{{ member.param.first_name }}"}'
    )
    assert json.loads(body) == {"id": MEMBER["id"], "email": MEMBER["email"], "name": "Jane"}


def test_numbers_render_as_their_digits() -> None:
    assert json.loads(_render('{"points": {{ member.points }}}')) == {"points": 12.5}


def test_a_null_param_left_unquoted_makes_the_body_invalid_json() -> None:
    body = _render('{"birth_date": {{ member.param.dateOfBirth }}}')
    assert body == '{"birth_date": }'
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_a_null_param_in_quotes_renders_an_empty_string() -> None:
    assert json.loads(_render('{"birth_date": "{{ member.param.dateOfBirth }}"}')) == {"birth_date": ""}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1990-05-17", datetime(1990, 5, 17, tzinfo=UTC)),
        ("2026-03-01T09:00:00Z", datetime(2026, 3, 1, 9, tzinfo=UTC)),
        ("2026-03-01T11:00:00+02:00", datetime(2026, 3, 1, 9, tzinfo=UTC)),
        (EPOCH, datetime(2026, 3, 1, 9, tzinfo=UTC)),
    ],
    ids=["iso-date", "iso-datetime-z", "iso-datetime-offset", "unix-int"],
)
def test_date_u_gives_unix_seconds(value: Any, expected: datetime) -> None:
    rendered = _render("{{ member.param.dateOfBirth | date('U') }}", param={"dateOfBirth": value})
    assert rendered == str(int(expected.timestamp()))


def test_date_u_of_a_null_or_unparseable_value_renders_nothing() -> None:
    assert _render("{{ member.param.dateOfBirth | date('U') }}") == ""
    assert _render("{{ member.param.dateOfBirth|date('U') }}", param={"dateOfBirth": "soon"}) == ""


def test_date_c_gives_iso_8601() -> None:
    assert _render("{{ event.created_at | date('c') }}") == "2026-03-01T09:00:00+00:00"
    assert (
        _render("{{ member.param.d | date('c') }}", param={"d": "1990-05-17"}) == "1990-05-17T00:00:00+00:00"
    )
    parsed = datetime.fromisoformat(_render("{{ event.created_at | date('c') }}"))
    assert parsed.timestamp() == EPOCH


@pytest.mark.parametrize(
    "value",
    ['O\'Neill "The Frog" \\ backslash', None, 42, True, ["beer", "cider"], {"seat": "bar"}, "zoë 🍺"],
    ids=["quotes", "null", "int", "bool", "list", "object", "unicode"],
)
def test_json_encode_gives_a_json_literal_of_the_value(value: Any) -> None:
    body = _render('{"drink": {{ member.param.x | json_encode }}}', param={"x": value})
    assert json.loads(body) == {"drink": value}


def test_a_name_with_a_double_quote_breaks_the_json_body() -> None:
    body = _render('{"first_name": "{{ member.param.first_name }}"}', param={"first_name": 'The "Frog"'})
    assert body == '{"first_name": "The "Frog""}'
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


@pytest.mark.parametrize("path", ["member.nowhere", "member.param.missing", "member.email.deeper", "nothing"])
def test_missing_paths_render_empty(path: str) -> None:
    assert _render(f"[{{{{ {path} }}}}]") == "[]"


def test_booleans_render_twig_style() -> None:
    assert _render("{{ member.param.newsletter }}|{{ member.param.vip }}") == "1|"


def test_upper_lower_and_default_filters() -> None:
    assert _render("{{ member.param.first_name | upper }}") == "JANE"
    assert _render("{{ member.param.first_name | lower }}") == "jane"
    assert _render("{{ member.param.dateOfBirth | default('unknown') }}") == "unknown"
    assert _render("{{ member.param.first_name | default('unknown') }}") == "Jane"


def test_an_unknown_filter_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'reverse'"):
        _render("{{ member.email | reverse }}")


def test_text_outside_tags_is_kept_as_is() -> None:
    template = '{"a": "{ not a tag }", "b": "{{ not closed", "c": "}}"}'
    assert _render(template) == template
