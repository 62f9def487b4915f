"""Collects compile diagnostics, each placed at the YAML position of the offending value."""

from __future__ import annotations

from opp.config.diagnostics import Diagnostic
from opp.config.source_map import JsonPath, SourceMap
from opp.policy.api import CheckIssue

__all__ = ["Reporter"]


class Reporter:
    """Positioned, deduplicated diagnostics of one compile run.

    An identical diagnostic (same position, code, message and hint) is kept once, so a policy
    checked for several tools reports a problem once.
    """

    def __init__(self, source_map: SourceMap) -> None:
        self.source_map = source_map
        self._found: dict[Diagnostic, None] = {}

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Every diagnostic reported so far, in report order."""
        return list(self._found)

    @property
    def count(self) -> int:
        """How many distinct diagnostics were reported (compare before/after a step)."""
        return len(self._found)

    def error(
        self, path: JsonPath, code: str, message: str, hint: str | None = None, *, at_key: bool = False
    ) -> None:
        """Report a problem with the value (or, ``at_key``, the key) at ``path``."""
        line, col = self.source_map.key(path) if at_key else self.source_map.value(path)
        self._add(line, col, code, message, hint)

    def expression_issue(self, path: JsonPath, source: str, issue: CheckIssue) -> None:
        """Report a CEL check issue at its position inside the YAML scalar holding ``source``."""
        line, col = self.source_map.in_scalar(path, source, issue.line, issue.col)
        self._add(line, col, issue.code, issue.message, issue.hint)

    def line_of(self, path: JsonPath) -> int:
        """The line ``path`` was written on (for "first declared at line N" hints)."""
        return self.source_map.value(path)[0]

    def _add(self, line: int, col: int, code: str, message: str, hint: str | None) -> None:
        diagnostic = Diagnostic(
            file=self.source_map.file, line=line, col=col, code=code, message=message, hint=hint
        )
        self._found[diagnostic] = None
