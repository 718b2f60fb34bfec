"""A verdict and its renderings: text for a terminal, a dict for ``--json``, JUnit XML for CI."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any
from xml.etree import ElementTree

from ._catalog import METRIC_NAMES, PROFILE_PROPERTIES
from .traffic import RequestRecord

RULES = (
    "received",
    "readable",
    "metric-payload",
    "refresh-follows-event",
    "webhook-no-refresh",
    "no-system-segment",
    "no-duplicate",
    "identifiers",
    "coverage",
)
REFRESH_ATTRIBUTES = ("locale", "external_id", *PROFILE_PROPERTIES)


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


#: The offending value of a violation where the contract wants something that is not there.
MISSING = "(missing)"


def _shown(value: Any, width: int = 80) -> str:
    text = value if value == MISSING else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class Violation:
    """One break of a rule: which, why, about which member, in which request (its seq in the log), where in
    its body, the TRIFFT event id (the event's ``unique_id``) it concerns, the offending value found there
    (``"(missing)"`` when absent) and, where the contract determines it, the expected one."""

    rule: str
    message: str
    member: str | None = None
    request: int | None = None
    pointer: str | None = None
    event_id: str | None = None
    value: Any = field(default=None, hash=False)
    expected: Any = field(default=None, hash=False)

    def __str__(self) -> str:
        where = [
            f"member {self.member}" if self.member else "",
            f"event {self.event_id}" if self.event_id else "",
            f"request #{self.request}" if self.request else "",
            f"at {self.pointer}" if self.pointer else "",
        ]
        found = [
            f"value {_shown(self.value)}" if self.value is not None else "",
            f"expected {_shown(self.expected)}" if self.expected is not None else "",
        ]
        return (
            f"[{self.rule}] {self.message}"
            + (f" ({', '.join(w for w in where if w)})" if any(where) else "")
            + (f"; {', '.join(f for f in found if f)}" if any(found) else "")
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """The verdict on one account's traffic: violations, coverage, and how its requests were answered."""

    violations: list[Violation]
    metrics: Counter[str]
    attributes: set[str]
    endpoints: Counter[str]
    log: list[RequestRecord]
    require_all_metrics: bool = False

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def requests(self) -> int:
        """Requests Klaviyo accepted: the ones judged."""
        return sum(1 for r in self.log if r.accepted)

    @property
    def rejected(self) -> int:
        """Requests Klaviyo refused (a 4xx other than 429, no injected fault): invalid bodies, conflicts, bad keys."""
        return sum(1 for r in self.log if r.invalid)

    @property
    def throttled(self) -> int:
        return sum(1 for r in self.log if r.throttled and r.fault is None)

    @property
    def faults(self) -> int:
        return sum(1 for r in self.log if r.fault is not None)

    def missing_metrics(self) -> list[str]:
        return [name for name in METRIC_NAMES if not self.metrics[name]]

    def missing_attributes(self) -> list[str]:
        return [a for a in REFRESH_ATTRIBUTES if a not in self.attributes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "requests": self.requests,
            "rejected_requests": self.rejected,
            "throttled_requests": self.throttled,
            "fault_requests": self.faults,
            "violations": [v.to_dict() for v in self.violations],
            "coverage": {
                "metrics": {name: self.metrics[name] for name in METRIC_NAMES},
                "other_metrics": {k: v for k, v in self.metrics.items() if k not in METRIC_NAMES},
                "refresh_attributes": sorted(self.attributes),
                "missing_refresh_attributes": self.missing_attributes(),
                "endpoints": dict(self.endpoints),
            },
        }

    def text(self, limit: int = 50, more: str = "see --json") -> str:
        """The verdict for a person: a PASS/FAIL line with the counts, violations by rule, the first ``limit``
        violations (``more`` says where the rest are), and coverage."""
        lines = [
            f"{'PASS' if self.ok else 'FAIL'}: {_count(self.requests, 'accepted request')} judged "
            f"({self.rejected} refused by Klaviyo (4xx), {self.throttled} throttled, {self.faults} failed "
            f"by injected faults: not counted), {_count(len(self.violations), 'violation')}"
        ]
        by_rule = Counter(v.rule for v in self.violations)
        lines += [f"  {rule}: {by_rule[rule]}" for rule in RULES if by_rule[rule]]
        lines += [f"  - {violation}" for violation in self.violations[:limit]]
        if len(self.violations) > limit:
            lines.append(f"  ... and {len(self.violations) - limit} more ({more})")
        missing = self.missing_metrics()
        lines.append(
            f"coverage: {15 - len(missing)}/15 standard metrics"
            + (f"; never sent: {', '.join(missing)}" if missing else "")
        )
        absent = self.missing_attributes()
        lines.append(
            f"refresh attributes seen: {len(REFRESH_ATTRIBUTES) - len(absent)}/{len(REFRESH_ATTRIBUTES)}"
            + (f"; never sent: {', '.join(absent)}" if absent else "")
        )
        lines.append("endpoints: " + ", ".join(f"{name} x{count}" for name, count in self.endpoints.items()))
        return "\n".join(lines)


def junit(report: Report, path: str) -> None:
    """Write the verdict as JUnit XML: one test case per rule, failures listing its violations."""
    by_rule: dict[str, list[Violation]] = defaultdict(list)
    for violation in report.violations:
        by_rule[violation.rule].append(violation)
    suite = ElementTree.Element(
        "testsuite",
        name="trifft-klaviyo contract",
        tests=str(len(RULES)),
        failures=str(sum(1 for rule in RULES if by_rule[rule])),
    )
    for rule in RULES:
        case = ElementTree.SubElement(suite, "testcase", classname="contract", name=rule)
        if by_rule[rule]:
            failure = ElementTree.SubElement(case, "failure", message=_count(len(by_rule[rule]), "violation"))
            failure.text = "\n".join(str(v) for v in by_rule[rule])
    ElementTree.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
