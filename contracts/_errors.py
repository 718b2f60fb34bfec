"""Errors raised by the contracts package.

ContractError
├── UnknownSchema      no schema for that metric, kind or endpoint
└── MalformedPayload   text that is not JSON, with the line and column where parsing stopped
"""

from __future__ import annotations


class ContractError(Exception):
    """Base of every error this package raises."""


class UnknownSchema(ContractError, LookupError):
    """No schema is registered under the name asked for."""

    def __init__(self, what: str, name: str, known: list[str]) -> None:
        self.what, self.name, self.known = what, name, known
        super().__init__(f"no schema for {what} {name!r}; known: {', '.join(known)}")


class MalformedPayload(ContractError, ValueError):
    """A payload that is not valid JSON. Carries where the parser stopped, 1-based."""

    def __init__(self, source: str, line: int, column: int, position: int, reason: str) -> None:
        self.source, self.line, self.column = source, line, column
        self.position, self.reason = position, reason
        super().__init__(f"{source}:{line}:{column}: not valid JSON: {reason} (character {position})")
