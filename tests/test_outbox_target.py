"""The outbox knows its target: the base URL and account (a hash of the key) its done-marks and Klaviyo ids mean
something at, so a run against another target is refused unless it asks to re-target."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from emulator.klaviyo.store import account_id
from sync.delivery import Syncer
from sync.errors import TargetMismatch
from sync.outbox import Outbox, account_of

URL = "http://klaviyo.test"


def test_the_account_is_a_sha256_hash_of_the_key_the_same_the_emulator_names_it_by() -> None:
    assert account_of("pk_one") == hashlib.sha256(b"pk_one").hexdigest()[:16] == account_id("pk_one")
    assert account_of("pk_one") != account_of("pk_two")


def test_a_new_outbox_takes_the_first_target_and_keeps_it_without_the_key(tmp_path: Path) -> None:
    path = tmp_path / "sync.db"
    outbox = Outbox(str(path))
    assert outbox.target() is None
    Syncer(URL + "/", "pk_secret_key_1234", outbox=outbox)
    assert outbox.target() == (URL, account_of("pk_secret_key_1234"))
    outbox.close()
    assert b"pk_secret_key_1234" not in b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert Outbox(str(path)).target() == (URL, account_of("pk_secret_key_1234"))


@pytest.mark.parametrize(
    ("url", "key", "said"),
    [
        (
            URL,
            "pk_b",
            f"was used with another API key (account {account_of('pk_a')}, not {account_of('pk_b')})",
        ),
        ("http://other.test", "pk_a", f"was used with {URL}, not http://other.test"),
        (
            "http://other.test",
            "pk_b",
            f"was used with {URL}, not http://other.test, and another API key (account {account_of('pk_a')}, "
            f"not {account_of('pk_b')})",
        ),
    ],
    ids=["key", "url", "both"],
)
def test_another_target_is_refused_naming_what_differs(url: str, key: str, said: str) -> None:
    outbox = Outbox()
    outbox.bind(URL, account_of("pk_a"))
    with pytest.raises(TargetMismatch) as refused:
        Syncer(url, key, outbox=outbox, transport=httpx.MockTransport(lambda request: httpx.Response(202)))
    assert str(refused.value) == f"the outbox :memory: {said}"
    assert outbox.target() == (URL, account_of("pk_a"))


def test_re_targeting_to_another_account_forgets_its_klaviyo_ids_and_to_another_url_keeps_them() -> None:
    outbox = Outbox()
    outbox.bind(URL, account_of("pk_a"))
    outbox.remember("member-1", "01KLAVIYOID")

    assert outbox.bind("http://proxy.test", account_of("pk_a"), retarget=True) == (URL, account_of("pk_a"))
    assert outbox.klaviyo_id("member-1") == "01KLAVIYOID", "the same account behind another URL"

    assert outbox.bind("http://proxy.test", account_of("pk_b"), retarget=True) == (
        "http://proxy.test",
        account_of("pk_a"),
    )
    assert outbox.klaviyo_id("member-1") is None, "an id of the old account names nothing in the new one"
    assert outbox.bind("http://proxy.test", account_of("pk_b"), retarget=True) is None
