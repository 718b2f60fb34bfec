"""Every file under fixtures/ is checked.

Payloads against the schema their folder stands for, the seed copy against its pinned hash and the cleaning
against the page, the raw samples for clear parse errors, and each edge case for what it claims to contain.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import contracts

FIXTURES = Path(__file__).parent.parent / "fixtures"
SEED = FIXTURES / "seed" / "standard-data-trifft-sends-to-klaviyo.txt"
SEED_SHA256 = "27c2e5194c87903b4859ffec1f99ad6025fe9fda33e5fb67eae0d6adf48c3bb4"
RAW = FIXTURES / "seed" / "raw"
#: Files that are not payloads, each checked by its own test below.
NOT_PAYLOADS = {
    "README.md",
    "seed/README.md",
    "seed/standard-data-trifft-sends-to-klaviyo.txt",
    "seed/raw/member_verified.txt",
    "seed/raw/transaction_created.txt",
}


def fixture_files() -> list[str]:
    return sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*") if p.is_file())


def schema_for(name: str) -> contracts.Schema:
    """The schema a payload fixture is checked against, chosen by its folder."""
    path = Path(name)
    folder = path.parent.as_posix()
    if folder == "metrics" and path.suffix == ".json":
        return contracts.metric_schema(path.stem)
    if folder == "profile" and path.suffix == ".json":
        return contracts.profile_refresh_schema()
    if folder == "edge" and path.suffix in (".json", ".jsonl"):
        return contracts.event_schema()
    raise LookupError(f"fixtures/{name}: no known schema for this folder and extension")


def documents(name: str) -> list[Any]:
    """The JSON documents of a payload fixture: the file, or each line of a .jsonl file."""
    path = FIXTURES / name
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [contracts.parse_json(line, f"{path}:{n}") for n, line in enumerate(text.splitlines(), 1)]
    return [contracts.parse_json(text, str(path))]


PAYLOADS = [name for name in fixture_files() if name not in NOT_PAYLOADS]
EDGE = [name for name in PAYLOADS if name.startswith("edge/")]


def test_fixture_folder_is_not_empty() -> None:
    assert len(PAYLOADS) >= 15 + 1 + 14


@pytest.mark.parametrize("name", fixture_files())
def test_every_fixture_file_has_a_known_schema_or_a_named_role(name: str) -> None:
    if name not in NOT_PAYLOADS:
        schema_for(name)


def test_a_file_in_a_folder_without_schema_has_no_known_schema() -> None:
    with pytest.raises(LookupError, match="no known schema"):
        schema_for("edge/notes.txt")
    with pytest.raises(contracts.UnknownSchema):
        schema_for("metrics/order_placed.json")


@pytest.mark.parametrize("name", PAYLOADS)
def test_payload_fixture_validates_against_its_schema(name: str) -> None:
    schema = schema_for(name)
    for n, document in enumerate(documents(name), 1):
        assert schema.validate(document) == [], f"fixtures/{name} document {n}"


@pytest.mark.parametrize("name", fixture_files())
def test_every_fixture_file_is_listed_in_the_fixtures_readme(name: str) -> None:
    if name != "README.md":
        assert f"`{name}`" in (FIXTURES / "README.md").read_text(encoding="utf-8")


def test_every_metric_has_its_seed_sample() -> None:
    assert sorted(n for n in PAYLOADS if n.startswith("metrics/")) == sorted(
        f"metrics/{kind}.json" for kind in contracts.STANDARD_KINDS
    )


# The seed page and its cleaning


def test_seed_copy_is_the_page_as_copied() -> None:
    assert hashlib.sha256(SEED.read_bytes()).hexdigest() == SEED_SHA256


def test_seed_readme_cites_the_page() -> None:
    text = (FIXTURES / "seed" / "README.md").read_text(encoding="utf-8")
    assert "https://docs.trifft.io/docs/standard-data-trifft-sends-to-klaviyo" in text
    assert SEED_SHA256 in text


def seed_samples() -> dict[str, str]:
    """The page's 15 sample lines, in the page's order, keyed by kind."""
    lines = SEED.read_text(encoding="utf-8").splitlines()
    samples = lines[lines.index("Events sent to Klaviyo") : lines.index("Attributes sent to Klaviyo")]
    found = [line for line in samples if line.startswith(("{", "`"))]
    return dict(zip(contracts.STANDARD_KINDS, found, strict=True))


OBFUSCATED_EMAIL = "[email\u00a0protected]"


def drop_doubled_items(text: str) -> str:
    start = text.index('"items": ') + len('"items": ')
    end = text.index("][") + 1
    first = text[start:end]
    assert text[end:].startswith(first), "the second array is not a copy of the first"
    return text[:end] + text[end + len(first) :]


#: The cleaning that fixtures/seed/README.md documents, one function per changed sample.
CLEANING: dict[str, Callable[[str], str]] = {
    "member_verified": lambda text: text.removeprefix("`"),
    "transaction_created": drop_doubled_items,
    "referral_code_provided": lambda text: text.replace(OBFUSCATED_EMAIL, "jane.doe@example.com"),
    "referral_invited": lambda text: text.replace(OBFUSCATED_EMAIL, "sam.taylor@example.com"),
}


@pytest.mark.parametrize("kind", contracts.STANDARD_KINDS)
def test_metric_fixture_is_the_seed_sample_with_only_the_documented_cleaning(kind: str) -> None:
    raw = seed_samples()[kind]
    cleaned = CLEANING.get(kind, lambda text: text)(raw)
    assert (FIXTURES / "metrics" / f"{kind}.json").read_text(encoding="utf-8") == cleaned + "\n"


@pytest.mark.parametrize("kind", sorted(CLEANING))
def test_each_documented_cleaning_changes_its_sample(kind: str) -> None:
    raw = seed_samples()[kind]
    assert CLEANING[kind](raw) != raw


@pytest.mark.parametrize("kind", ["referral_code_provided", "referral_invited"])
def test_cleaned_referral_email_keeps_the_samples_trailing_space(kind: str) -> None:
    payload = json.loads((FIXTURES / "metrics" / f"{kind}.json").read_text(encoding="utf-8"))
    email = payload["referrer_email" if kind == "referral_code_provided" else "email"]
    assert email.endswith("@example.com ")
    assert f'"{OBFUSCATED_EMAIL} "' in seed_samples()[kind]


def test_raw_seed_samples_are_the_two_malformed_ones() -> None:
    assert sorted(p.name for p in RAW.iterdir()) == ["member_verified.txt", "transaction_created.txt"]
    for path in RAW.iterdir():
        assert path.read_text(encoding="utf-8") == seed_samples()[path.stem] + "\n"


def test_raw_member_verified_is_rejected_at_its_backtick() -> None:
    path = RAW / "member_verified.txt"
    text = path.read_text(encoding="utf-8")
    with pytest.raises(contracts.MalformedPayload) as caught:
        contracts.parse_json(text, source=str(path))
    error = caught.value
    assert (error.line, error.column, error.position) == (1, 1, 0)
    assert text[error.position] == "`"
    assert str(path) in str(error)


def test_raw_transaction_created_is_rejected_at_the_second_items_array() -> None:
    path = RAW / "transaction_created.txt"
    text = path.read_text(encoding="utf-8")
    with pytest.raises(contracts.MalformedPayload) as caught:
        contracts.parse_json(text, source=str(path))
    error = caught.value
    second_array = text.index("][") + 1
    assert (error.line, error.column, error.position) == (1, second_array + 1, second_array)
    assert text[error.position - 1 : error.position + 3] == "][ {"
    assert str(path) in str(error)
    assert f"{path}:1:{second_array + 1}:" in str(error)


# The edge cases contain what they claim


def strings(value: Any) -> list[str]:
    """Every string in a JSON document, keys excluded."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def nulls(value: Any, pointer: str = "") -> list[str]:
    """The pointer of every null in a JSON document."""
    if value is None:
        return [pointer]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{pointer}/{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{pointer}/{i}")]
    return []


def only(name: str) -> dict[str, Any]:
    (document,) = documents(f"edge/{name}")
    assert isinstance(document, dict)
    return document


def params(event: dict[str, Any]) -> dict[str, Any]:
    return {slug: param["value"] for slug, param in event["member"]["params"].items()}


def claims_unicode_emoji_names() -> None:
    values = strings(params(only("unicode_emoji_names.json")))
    assert any(ord(c) > 0xFFFF for v in values for c in v), "an emoji outside the BMP"
    assert any("\u200d" in v for v in values), "a zero-width-joiner emoji sequence"
    assert any(unicodedata.combining(c) for v in values for c in v), "a combining accent"
    assert any(v != unicodedata.normalize("NFC", v) for v in values), "a name that is not NFC-normalised"


def claims_rtl_text() -> None:
    event = only("rtl_text.json")
    values = strings(event)
    assert any(unicodedata.bidirectional(c) == "AL" for v in values for c in v), "Arabic"
    assert any(unicodedata.bidirectional(c) == "R" for v in values for c in v), "Hebrew"
    assert any(unicodedata.bidirectional(c) == "AL" for c in event["data"]["venue"]["name"])
    assert event["member"]["favorite_venue"]["name"] == event["data"]["venue"]["name"]


def claims_trailing_spaces() -> None:
    event = only("trailing_spaces.json")
    assert event["member"]["email"].endswith(" ")
    assert event["data"]["name"].endswith(" ") and event["data"]["coupon"]["name"].endswith(" ")
    assert params(event)["last_name"] == " Doe "


def claims_explicit_nulls() -> None:
    event = only("explicit_nulls.json")
    found = set(nulls(event))
    address = ("street", "city", "postal_code", "country", "lat", "lng")
    assert {f"/data/venue/address/{field}" for field in address} <= found
    assert {"/data/note", "/data/items/0/sku", "/data/items/0/points", "/data/items/0/note"} <= found
    assert {"/member/primary_card_id", "/member/tier", "/member/favorite_venue"} <= found
    assert all(value is None for value in params(event).values())


def claims_empty_strings() -> None:
    values = params(only("empty_strings.json"))
    assert values and all(value == "" for value in values.values())


def claims_basket_500_items() -> None:
    event = only("basket_500_items.json")
    assert event["kind"] == "transaction_created"
    assert len(event["data"]["items"]) == 500


def claims_zero_points_balance() -> None:
    event = only("zero_points_balance.json")
    assert event["kind"] == "wallet_debited"
    assert event["member"]["points"] == 0 and event["data"]["wallet"]["points"] == 0


def claims_fractional_points() -> None:
    event = only("fractional_points.json")
    assert event["data"]["points"] == 0.01 and event["member"]["points"] == 0.01
    assert event["data"]["wallet"]["points"] == 1


def claims_very_large_balance() -> None:
    event = only("very_large_balance.json")
    assert event["data"]["wallet"]["points"] == 2**53 - 1
    assert event["member"]["points"] == event["data"]["wallet"]["points"] / 100
    literal = "90071992547409.91"
    text = (FIXTURES / "edge" / "very_large_balance.json").read_text(encoding="utf-8")
    assert f'"points": {literal},' in text
    assert repr(float(literal)) != literal, "the literal has more digits than a double keeps"


def claims_numeric_strings() -> None:
    event = only("numeric_strings.json")
    data, member = event["data"], event["member"]
    digit_strings = [
        data["items"][0]["sku"],
        data["transaction_id"],
        data["venue"]["address"]["postal_code"],
        member["primary_card_id"],
        member["support_id"],
        params(event)["membership_number"],
    ]
    assert all(isinstance(s, str) and s.isdigit() for s in digit_strings)
    assert any(s.startswith("0") for s in digit_strings), "leading zeros a number would lose"
    assert math.isfinite(float(params(event)["locker_code"])), "a parameter that parses as a float"


def claims_phone_only_member() -> None:
    member = only("phone_only_member.json")["member"]
    assert member["email"] is None
    assert isinstance(member["phone"], str) and member["phone"].startswith("+")


def claims_email_change() -> None:
    events = documents("edge/email_change.jsonl")
    assert len({event["member"]["id"] for event in events}) == 1
    assert [event["sequence"] for event in events] == list(range(1, len(events) + 1))
    assert [event["occurred_at"] for event in events] == sorted(event["occurred_at"] for event in events)
    emails = [event["member"]["email"] for event in events]
    assert emails[0] != emails[-1]
    changed = [event for event in events if event["kind"] == "profile_updated"]
    assert [event["data"]["reason"] for event in changed] == ["email_changed"]


def claims_shared_email() -> None:
    events = documents("edge/shared_email.jsonl")
    assert len(events) == 2
    assert len({event["member"]["id"] for event in events}) == 2
    assert len({event["member"]["email"] for event in events}) == 1


def claims_system_segment_added() -> None:
    event = only("system_segment_added.json")
    assert event["kind"] == "added_to_segment"
    assert event["data"]["is_internal"] is True and event["data"]["name"] == "All members"
    assert event["data"] in event["member"]["segments"]


def claims_custom_webhook_null_param() -> None:
    event = only("custom_webhook_null_param.json")
    unquoted = "{{ member.param.birth_date | date('U') }}"
    assert f'"birth_date": {unquoted}' in event["data"]["webhook"]["template"]
    assert params(event)["birth_date"] is None
    body = event["data"]["rendered_body"]
    with pytest.raises(contracts.MalformedPayload):
        contracts.parse_json(body, "rendered_body")
    # The null param is the only fault: a rendered date would have made it valid JSON.
    assert contracts.parse_json(body.replace('"birth_date": }', '"birth_date": 866246400}'))


CLAIMS: dict[str, Callable[[], None]] = {
    "edge/unicode_emoji_names.json": claims_unicode_emoji_names,
    "edge/rtl_text.json": claims_rtl_text,
    "edge/trailing_spaces.json": claims_trailing_spaces,
    "edge/explicit_nulls.json": claims_explicit_nulls,
    "edge/empty_strings.json": claims_empty_strings,
    "edge/basket_500_items.json": claims_basket_500_items,
    "edge/zero_points_balance.json": claims_zero_points_balance,
    "edge/fractional_points.json": claims_fractional_points,
    "edge/very_large_balance.json": claims_very_large_balance,
    "edge/numeric_strings.json": claims_numeric_strings,
    "edge/phone_only_member.json": claims_phone_only_member,
    "edge/email_change.jsonl": claims_email_change,
    "edge/shared_email.jsonl": claims_shared_email,
    "edge/system_segment_added.json": claims_system_segment_added,
    "edge/custom_webhook_null_param.json": claims_custom_webhook_null_param,
}


def test_every_edge_case_states_a_claim() -> None:
    assert sorted(CLAIMS) == EDGE


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_edge_case_contains_what_it_claims(name: str) -> None:
    CLAIMS[name]()
