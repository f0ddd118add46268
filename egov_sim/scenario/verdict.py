"""What a run gave against what the scenario's ``then`` expects: each difference as a line to read,
and the steps as a diff (expected ``-``, actual ``+``)."""

from __future__ import annotations

import difflib
import json
from typing import Any

from egov_sim.scenario.model import Then

_MISSING = object()


def _field(document: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(document, dict) and part in document:
            document = document[part]
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return _MISSING
    return document


def _holds(actual: Any, expected: Any, where: str) -> list[str]:
    """How ``actual`` falls short of ``expected``: a mapping holds every field ``expected`` names
    (others may be there too), a list item by item, anything else is equal."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected a mapping with {sorted(expected)}, got {actual!r}"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{where}.{key}: expected {value!r}, the result has no such field")
            else:
                problems.extend(_holds(actual[key], value, f"{where}.{key}"))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {expected!r}, got {actual!r}"]
        return [p for i, (a, e) in enumerate(zip(actual, expected)) for p in _holds(a, e, f"{where}.{i}")]
    return [] if actual == expected else [f"{where}: expected {expected!r}, got {actual!r}"]


def steps_diff(expected: list[str], actual: list[str]) -> list[str]:
    """A unified diff of the step labels: ``-`` expected but not taken, ``+`` taken but not expected."""
    return [line.rstrip("\n") for line in difflib.unified_diff(
        expected, actual, fromfile="expected steps", tofile="actual steps", lineterm="", n=2)]


def _subsequence(wanted: list[dict[str, Any]], messages: list[dict[str, Any]]) -> int | None:
    """The index in ``wanted`` of the first message not found (in order) among ``messages``."""
    position = 0
    for index, want in enumerate(wanted):
        while position < len(messages) and not all(messages[position].get(k) == v for k, v in want.items()):
            position += 1
        if position == len(messages):
            return index
        position += 1
    return None


def compare(then: Then, report: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The failures (one line each) and the steps' diff; both empty when the run is as expected."""
    failures: list[str] = []
    diff: list[str] = []
    if then.outcome is not None and report["outcome"] != then.outcome:
        failures.append(f"outcome: expected {then.outcome}, got {report['outcome']}")
    actual_steps = [e["label"] for e in report["trace"]]
    if then.steps is not None and actual_steps != then.steps:
        diff = steps_diff(then.steps, actual_steps)
        failures.append(f"steps: {len(then.steps)} expected, {len(actual_steps)} taken; they differ (diff below)")
    result = report.get("result") or {}
    document = result.get("document")
    for path, value in then.result.items():
        found = _MISSING if document is None else _field(document, path)
        if found is _MISSING:
            failures.append(f"result.{path}: expected {value!r}, the result has no such field"
                            + ("" if document is not None else f" (no result: {report['outcome']})"))
        else:
            failures.extend(_holds(found, value, f"result.{path}"))
    if then.signature is not None:
        code = (result.get("verdict") or {}).get("code")
        if code != then.signature:
            failures.append(f"signature: expected {then.signature}, got {code}")
    if then.refusal_contains is not None:
        # a stop before the provider decides carries a refusal; the provider's refusal is its signed document
        refusal = result.get("refusal") if result.get("refusal") is not None else (
            document if report["outcome"] == "refused" else None)
        text = json.dumps(refusal, ensure_ascii=False)
        if then.refusal_contains not in text:
            failures.append(f"refusal: expected it to contain {then.refusal_contains!r}, it reads {text}")
    if then.term_met is not None and report["term"]["met"] != then.term_met:
        failures.append(f"term: expected {'met' if then.term_met else 'missed'}, it was "
                        f"{'met' if report['term']['met'] else 'missed'} (due {report['term']['due']}, "
                        f"finished {report['finished_at']})")
    if then.messages:
        wanted = [m.model_dump(exclude_none=True) for m in then.messages]
        missing = _subsequence(wanted, report["messages"])
        if missing is not None:
            seen = ", ".join(f"{m['serviceId']} {m['sender']}→{m['recipient']} {m['status']}" for m in report["messages"])
            failures.append(f"messages: {wanted[missing]} not found in order among the application's ({seen or 'none'})")
    return failures, diff
