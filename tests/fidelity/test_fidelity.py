"""The fidelity suite: every documented Klaviyo behaviour the emulator relies on, against a fresh emulator each.

The cases are in ``_fidelity_cases.py``, one per behaviour, each with the public URL it comes from; ``README.md``
beside them is the same list as a table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from _emulator_bodies import assert_jsonapi_error, first_error
from _fidelity_cases import CASES, Case, Step, table

HERE = Path(__file__).resolve().parent


def _send(client: httpx.Client, step: Step, answer: httpx.Response | None = None) -> httpx.Response:
    path = step.path
    if "{id}" in path and answer is not None:
        path = path.format(id=answer.json()["data"]["id"])
    headers = dict(step.headers)
    if step.content is not None:
        return client.request(step.method, path, params=step.params, headers=headers, content=step.content)
    if step.body is None:
        return client.request(step.method, path, params=step.params, headers=headers)
    return client.request(step.method, path, params=step.params, headers=headers, json=step.body)


def _at(document: Any, where: str) -> Any:
    length = where.endswith("#")
    for part in where.rstrip("#").split("."):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return len(document) if length else document


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_klaviyo_does_this_and_so_does_the_emulator(client: httpx.Client, case: Case) -> None:
    for step in case.given:
        assert _send(client, step).status_code < 400, step
    response = _send(client, case.request)
    assert response.status_code == case.status, response.text
    if case.status >= 400:
        assert_jsonapi_error(response, case.status, case.code)
        error = first_error(response)
        if case.pointer is not None:
            assert error["source"] == {"pointer": case.pointer}
        if case.parameter is not None:
            assert error["source"] == {"parameter": case.parameter}
        if case.detail is not None:
            assert error["detail"] == case.detail
    for after in case.after:
        read = response if after.step is None else _send(client, after.step, response)
        assert read.status_code < 300, read.text
        assert _at(read.json(), after.at) == after.value, (after, read.json())


def test_every_case_names_a_public_source() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    assert all(case.source.startswith("https://") for case in CASES)


def test_the_readme_lists_every_case_as_the_cases_say() -> None:
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    assert table() in readme, "regenerate the table: python tests/fidelity/_fidelity_cases.py"
