"""Where each value of ``gateway.yaml`` was written: JSON path → 1-based line and column.

The loader records, for every key and value it builds from the composed YAML, the position of the
key and of the value; for scalars also the raw span of source text, so that a position *inside* a
scalar (a CEL expression's column) can be mapped back to the file even for folded block scalars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["JsonPath", "Position", "ScalarSpan", "SourceMap", "format_path"]

JsonPath = tuple[str | int, ...]
"""Keys and list indices from the document root, e.g. ``("tools", 1, "risk")``."""
Position = tuple[int, int]
"""1-based ``(line, column)``."""


def format_path(path: JsonPath) -> str:
    """Render a JSON path the way a reader types it: ``tools[1].risk``; the root is ``top level``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "top level"


@dataclass(frozen=True, slots=True)
class ScalarSpan:
    """The raw source text of one scalar: ``text[start:end]`` and its YAML style (``None`` = plain)."""

    start: int
    end: int
    style: str | None


@dataclass(slots=True)
class SourceMap:
    """Positions of the keys and values of one YAML document.

    Lookups for a path that was not written (a defaulted field) fall back to the nearest ancestor
    that was, so every diagnostic has a position.
    """

    file: str
    text: str = ""
    keys: dict[JsonPath, Position] = field(default_factory=dict)
    values: dict[JsonPath, Position] = field(default_factory=dict)
    scalars: dict[JsonPath, ScalarSpan] = field(default_factory=dict)

    def has(self, path: JsonPath) -> bool:
        """Whether ``path`` was written in the file."""
        return path in self.values

    def value(self, path: JsonPath) -> Position:
        """Position of the value at ``path`` (or of its nearest written ancestor)."""
        return self._nearest(self.values, path)

    def key(self, path: JsonPath) -> Position:
        """Position of the key of ``path`` (the item itself for list items)."""
        if path in self.keys:
            return self.keys[path]
        return self.value(path)

    def in_scalar(self, path: JsonPath, parsed: str, line: int, col: int) -> Position:
        """Map a 1-based ``(line, col)`` inside ``parsed`` (the string value at ``path``) to the file.

        Non-blank characters of a scalar appear in the same order in the source, so the position
        is found by counting them; escapes in quoted scalars may shift it by a character or two.
        """
        span = self.scalars.get(path)
        if span is None:
            return self.value(path)
        wanted = _non_blank_before(parsed, line, col)
        index = span.start
        if span.style in ("|", ">"):
            newline = self.text.find("\n", span.start, span.end)
            index = span.end if newline < 0 else newline + 1
        elif span.style in ('"', "'"):
            index += 1
        seen = 0
        while index < span.end and (seen < wanted or self.text[index].isspace()):
            if not self.text[index].isspace():
                seen += 1
            index += 1
        return self._position_of(index)

    def _position_of(self, index: int) -> Position:
        line = self.text.count("\n", 0, index) + 1
        line_start = self.text.rfind("\n", 0, index) + 1
        return (line, index - line_start + 1)

    @staticmethod
    def _nearest(table: dict[JsonPath, Position], path: JsonPath) -> Position:
        for end in range(len(path), -1, -1):
            found = table.get(path[:end])
            if found is not None:
                return found
        return (1, 1)


def _non_blank_before(parsed: str, line: int, col: int) -> int:
    """How many non-blank characters of ``parsed`` precede its 1-based ``(line, col)``."""
    lines = parsed.split("\n")
    line = min(max(line, 1), len(lines))
    before = [*lines[: line - 1], lines[line - 1][: max(col, 1) - 1]]
    return sum(1 for text in before for char in text if not char.isspace())
