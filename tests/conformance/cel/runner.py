"""Run the CEL conformance data through both engines and report pass counts per file.

Usage: ``.venv/bin/python -m tests.conformance.cel.runner [--failures]`` prints a table (passed /
run, skipped) per file for each engine, then every divergence: a test one engine passes and the
other fails, or where their outcomes differ. ``--failures`` also lists every failing test.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field

from tests.conformance.cel.cases import CEL_SPEC, Case, load_cases
from tests.conformance.cel.engines import ENGINES, Outcome, passes, run_cel_python, run_compiled

__all__ = ["Report", "run_all"]


@dataclass
class Report:
    """Outcomes of every case under both engines."""

    cases: list[Case] = field(default_factory=list)
    outcomes: dict[str, dict[str, Outcome]] = field(default_factory=dict)

    def passed(self, engine: str, case: Case) -> bool:
        return passes(case, self.outcomes[engine][case.id])

    def counts(self) -> dict[str, Counter[str]]:
        """Per file: ``total``, ``skipped``, and ``<engine>`` passes."""
        table: dict[str, Counter[str]] = {}
        for case in self.cases:
            row = table.setdefault(case.file, Counter())
            row["total"] += 1
            if case.skip:
                row["skipped"] += 1
                continue
            for engine in ENGINES:
                row[engine] += self.passed(engine, case)
        return table

    def divergences(self) -> list[Case]:
        """Cases where the engines disagree on pass/fail."""
        return [
            case
            for case in self.cases
            if not case.skip and self.passed("cel-python", case) != self.passed("compiled", case)
        ]

    def regressions(self) -> list[Case]:
        """Cases cel-python passes and the compiled evaluator fails (must be empty)."""
        return [c for c in self.divergences() if self.passed("cel-python", c)]


def run_all() -> Report:
    """Load and run every case through both engines."""
    report = Report(cases=load_cases())
    report.outcomes = {"cel-python": {}, "compiled": {}}
    for case in report.cases:
        if case.skip:
            continue
        report.outcomes["cel-python"][case.id] = run_cel_python(case)
        report.outcomes["compiled"][case.id] = run_compiled(case)
    return report


def format_table(report: Report) -> str:
    """The per-file pass counts as a Markdown table."""
    lines = [
        "| file | tests | skipped | cel-python passed | compiled passed |",
        "|---|---:|---:|---:|---:|",
    ]
    totals: Counter[str] = Counter()
    for name, row in sorted(report.counts().items()):
        run = row["total"] - row["skipped"]
        totals.update(row)
        passed = f"{row['cel-python']}/{run} | {row['compiled']}/{run}"
        lines.append(f"| {name} | {row['total']} | {row['skipped']} | {passed} |")
    run = totals["total"] - totals["skipped"]
    lines.append(
        f"| **all** | {totals['total']} | {totals['skipped']} "
        f"| {totals['cel-python']}/{run} | {totals['compiled']}/{run} |"
    )
    return "\n".join(lines)


def _describe(report: Report, case: Case) -> str:
    reference, compiled = (report.outcomes[engine][case.id] for engine in ("cel-python", "compiled"))
    expected = f"{case.id}: {case.expr!r} expected {case.expected!r}"
    return f"{expected}; cel-python {reference!r}, compiled {compiled!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", action="store_true", help="list every failing test")
    args = parser.parse_args(argv)
    if not CEL_SPEC.is_dir():
        print(f"no conformance data at {CEL_SPEC}", file=sys.stderr)
        return 2
    report = run_all()
    print(format_table(report))
    print("\nDivergences (one engine passes, the other fails):")
    for case in report.divergences():
        print("  " + _describe(report, case))
    if args.failures:
        for engine in ENGINES:
            print(f"\nFailing under {engine}:")
            for case in report.cases:
                if not case.skip and not report.passed(engine, case):
                    print("  " + _describe(report, case))
    return 1 if report.regressions() else 0


if __name__ == "__main__":
    sys.exit(main())
