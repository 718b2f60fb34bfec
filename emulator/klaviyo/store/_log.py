"""The request log's inserts, made in a request's own transaction (``Tx`` has them): its line, its ledger lines
and its observations, written together with what the request did."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from contracts.traffic import Observation, RequestRecord

from ..types import Note
from ._database import dumps


def observation_doc(observation: Observation, request_id: str) -> str:
    """An observation as its row keeps it, with the id of the request that carried it. orjson writes the
    dataclass as it is (its fields in order, as ``to_dict`` lists them) without building a dict first."""
    observation.request_id = request_id
    try:
        return orjson.dumps(observation).decode()
    except TypeError:  # a value orjson refuses (an integer past 64 bits): the long way
        return dumps(observation.to_dict())


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class RequestLog:
    """Writes the request log in an open transaction (``_conn``)."""

    _conn: sqlite3.Connection

    def log_request(
        self, record: RequestRecord, observations: Sequence[Observation] = (), notes: Sequence[Note] = ()
    ) -> None:
        """The request's line in the log, its ledger lines and its observations (``Store.log``)."""
        r = record
        self._conn.execute(
            "INSERT INTO requests (id, account, masked_key, method, path, query, operation, status, duration_ms,"
            " request_body, response_body, errors, fault, received, headers)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r.id,
                r.account,
                r.masked_key,
                r.method,
                r.path,
                r.query,
                r.operation,
                r.status,
                r.duration_ms,
                r.request_body,
                r.response_body,
                dumps(r.errors) if r.errors else None,
                r.fault,
                r.received,
                dumps(r.headers) if r.headers else None,
            ),
        )
        if notes:
            self._conn.executemany(
                "INSERT INTO ledger (account, request_id, kind, reason, subject, details, at) VALUES "
                "(?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        record.account,
                        record.id,
                        n.kind,
                        n.reason,
                        n.subject,
                        dumps(n.details),
                        record.received,
                    )
                    for n in notes
                ],
            )
        if observations and record.account is not None:
            self._conn.executemany(
                "INSERT INTO observations (account, request_id, idx, kind, member, email, phone_number,"
                " profile_id, event_id, outcome, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        record.account,
                        record.id,
                        o.index,
                        o.kind,
                        o.member,
                        _text(o.identifiers.get("email")),
                        _text(o.identifiers.get("phone_number")),
                        o.profile_id,
                        o.event_id,
                        o.outcome,
                        observation_doc(o, record.id),
                    )
                    for o in observations
                ],
            )
