"""Config diagnostics: every problem with a position, a stable dotted code and a hint.

Printed OPA-style as ``FILE:LINE:COL: code: message (hint: …)``, sorted by position, or as JSON.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import msgspec

__all__ = ["ConfigError", "Diagnostic", "did_you_mean"]


class Diagnostic(msgspec.Struct, frozen=True, kw_only=True):
    file: str
    line: int
    col: int
    code: str
    message: str
    hint: str | None = None

    def format(self) -> str:
        text = f"{self.file}:{self.line}:{self.col}: {self.code}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.col, self.code, self.message)


class ConfigError(Exception):
    """Raised when a config cannot be loaded or compiled; carries every diagnostic, sorted."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(d.format() for d in self.diagnostics))


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A ``did you mean 'x'?`` hint for the closest candidate, or None."""
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None
