"""Reports of a layered-profile run: the human summary, JSON, JUnit XML, and the baseline.

A baseline names the checks expected to fail, each with a reason (YAML or JSON)::

    expected_failures:
      - id: abuse.rate-limit
        reason: this deployment has no rate limit

A listed check that fails is an ``expected-failure``; one that passes is an ``unexpected-pass``
(reported, not a failure); checks not listed are judged as usual.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import yaml

from opp.conformance.core import ProfileError
from opp.conformance.outcomes import CheckOutcome, Status

__all__ = ["apply_baseline", "exit_status", "json_report", "junit_xml", "load_baseline", "summary"]

_MARK: dict[Status, str] = {
    "passed": "PASS",
    "failed": "FAIL",
    "skipped": "SKIP",
    "expected-failure": "XFAIL",
    "unexpected-pass": "XPASS",
}


def load_baseline(path: str | Path) -> dict[str, str]:
    """Check id → reason of the expected failures in ``path``.

    Raises:
        ProfileError: the file cannot be read or is not ``{expected_failures: [{id, reason}]}``.
    """
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ProfileError(f"cannot read baseline {path}: {error}") from None
    entries = document.get("expected_failures") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("id") for e in entries):
        raise ProfileError(f"baseline {path}: expected {{expected_failures: [{{id, reason}}]}}")
    return {str(entry["id"]): str(entry.get("reason", "")) for entry in entries}


def apply_baseline(outcomes: Iterable[CheckOutcome], baseline: Mapping[str, str]) -> list[CheckOutcome]:
    """``outcomes`` with the baseline's checks marked expected-failure / unexpected-pass."""
    judged = []
    for outcome in outcomes:
        reason = baseline.get(outcome.id)
        if reason is not None and outcome.status == "failed":
            outcome.status = "expected-failure"
            outcome.reason = f"{outcome.reason} (expected: {reason})"
        elif reason is not None and outcome.status == "passed":
            outcome.status = "unexpected-pass"
            outcome.reason = f"listed as an expected failure ({reason}) but passed"
        judged.append(outcome)
    return judged


def exit_status(outcomes: Iterable[CheckOutcome], *, require_all: bool = False) -> int:
    """0 when nothing failed unexpectedly (and, with ``require_all``, nothing was skipped), else 1."""
    bad = {"failed", "skipped"} if require_all else {"failed"}
    return 1 if any(outcome.status in bad for outcome in outcomes) else 0


def summary(outcomes: list[CheckOutcome], *, verbose: bool = False) -> str:
    """One line per check (``PASS id: title``, with the reason when not passed), then the counts."""
    lines = []
    for outcome in outcomes:
        line = f"{_MARK[outcome.status]:5} {outcome.id} ({outcome.spec}): {outcome.title}"
        if outcome.reason:
            line += f"\n      {outcome.reason}"
        if verbose or outcome.status == "failed":
            line += "".join(f"\n        {entry}" for entry in outcome.log)
        lines.append(line)
    counts = Counter(outcome.status for outcome in outcomes)
    lines.append(
        f"{len(outcomes)} checks: "
        + ", ".join(f"{counts[status]} {status}" for status in _MARK if counts[status])
    )
    return "\n".join(lines)


def json_report(outcomes: list[CheckOutcome], base_url: str) -> dict[str, Any]:
    """The run as a JSON document: ``{base_url, passed, counts, checks: [...]}``."""
    counts = Counter(outcome.status for outcome in outcomes)
    return {
        "base_url": base_url,
        "passed": exit_status(outcomes) == 0,
        "counts": dict(counts),
        "checks": [outcome.as_dict() for outcome in outcomes],
    }


def junit_xml(outcomes: list[CheckOutcome]) -> str:
    """JUnit XML: one ``<testsuite>`` per profile, one ``<testcase classname=profile name=id>`` per check.

    A failure carries its reason; skipped checks and expected failures are ``<skipped>``.
    """
    root = ElementTree.Element("testsuites", name="opp conformance")
    layers: dict[str, list[CheckOutcome]] = {}
    for outcome in outcomes:
        layers.setdefault(outcome.layer, []).append(outcome)
    for layer, members in layers.items():
        counts = Counter(outcome.status for outcome in members)
        suite = ElementTree.SubElement(
            root,
            "testsuite",
            name=layer,
            tests=str(len(members)),
            failures=str(counts["failed"]),
            errors="0",
            skipped=str(counts["skipped"] + counts["expected-failure"]),
        )
        for outcome in members:
            case = ElementTree.SubElement(suite, "testcase", classname=layer, name=outcome.id)
            if outcome.status == "failed":
                failure = ElementTree.SubElement(case, "failure", message=outcome.reason)
                failure.text = "\n".join(outcome.log)
            elif outcome.status in ("skipped", "expected-failure"):
                ElementTree.SubElement(case, "skipped", message=outcome.reason)
            elif outcome.status == "unexpected-pass":
                ElementTree.SubElement(case, "system-out").text = outcome.reason
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
