"""Compose ``gateway.yaml`` once and build plain data plus a :class:`SourceMap`.

PyYAML's composer keeps a start mark on every node; building the Python values ourselves (instead of
``yaml.safe_load``) lets us record those marks per JSON path and report duplicate keys, which the
standard constructor silently overwrites. Timestamps stay strings: the schema never wants a
``datetime``, and a date written unquoted in an input schema's ``default`` should still be JSON.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from opp.config.diagnostics import ConfigError, Diagnostic
from opp.config.source_map import JsonPath, Position, ScalarSpan, SourceMap, format_path

__all__ = ["parse_yaml"]

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Compose ``text`` and build its data.

    Returns:
        The plain data (``{}`` for an empty document), its source map and the duplicate-key and
        key-type diagnostics found while building.

    Raises:
        ConfigError: ``config.yaml_syntax`` when the text is not one well-formed YAML document.
    """
    source_map = SourceMap(file=file, text=text)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is None:
            return {}, source_map, []
        builder = _Builder(source_map)
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_diagnostic(file, exc, text)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            [Diagnostic(file=file, line=1, col=1, code="config.yaml_syntax", message=str(exc))]
        ) from None
    return data, source_map, builder.diagnostics


def _syntax_diagnostic(file: str, exc: yaml.MarkedYAMLError, text: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = exc.problem or exc.context or "invalid YAML"
    hint = None
    if exc.context and exc.problem and exc.context.startswith("expected"):
        message = f"{exc.context}, {exc.problem}"  # e.g. "expected a single document…, but found another"
    elif exc.context and exc.problem:
        hint = exc.context
        if exc.context_mark is not None and exc.context_mark is not mark:
            hint += f" started at line {exc.context_mark.line + 1}"
    plain = _plain_hint(message, text.splitlines(), line)
    if plain is not None:
        hint = plain if hint is None else f"{plain}; PyYAML: {hint}"
    return Diagnostic(file=file, line=line, col=col, code="config.yaml_syntax", message=message, hint=hint)


def _previous_content_line(lines: list[str], line: int) -> int | None:
    """The 1-based number of the last non-blank, non-comment line before ``line``."""
    for number in range(min(line - 1, len(lines)), 0, -1):
        stripped = lines[number - 1].strip()
        if stripped and not stripped.startswith("#"):
            return number
    return None


def _plain_hint(message: str, lines: list[str], line: int) -> str | None:
    """The usual cause of PyYAML's error in plain words: a tab, the indentation, a missing colon."""
    if "'\\t'" in message or "\t" in message:
        return "a tab character: YAML indents with spaces only, replace the tab with spaces"
    if "could not find expected ':'" in message:
        return "a key without ':' after it: write `key: value`"
    if message.startswith("mapping values are not allowed"):
        previous = _previous_content_line(lines, line)
        if previous is not None:
            above = lines[previous - 1].strip().removeprefix("- ")
            if ":" not in above:
                return f"line {previous} has no ':' after its key: write `key: value`"
        return (
            "the indentation: this line is indented more than the key above it, or a value "
            "holds an unquoted ': ' (quote the value)"
        )
    if message.startswith("expected <block end>"):
        return (
            "the indentation: this line does not line up with the entries above it; keys of one "
            "mapping (and the '-' of one list) start in the same column"
        )
    return None


def _position(node: Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns composed nodes into dicts, lists and scalars, recording positions as it goes."""

    def __init__(self, source_map: SourceMap) -> None:
        self.source_map = source_map
        self.diagnostics: list[Diagnostic] = []
        self._constructor = SafeConstructor()
        self._active: set[int] = set()

    def build(self, node: Node, path: JsonPath) -> Any:
        self.source_map.values[path] = _position(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._active:
            self._error(node, "config.yaml_syntax", "recursive alias", "anchors may not contain themselves")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
        finally:
            self._active.discard(id(node))
        return None  # pragma: no cover - the composer only yields the three node kinds

    def _scalar(self, node: ScalarNode, path: JsonPath) -> Any:
        self.source_map.scalars[path] = ScalarSpan(node.start_mark.index, node.end_mark.index, node.style)
        if node.tag == _TIMESTAMP_TAG:
            return node.value
        return self._constructor.construct_object(node)

    def _mapping(self, node: MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for merged in (value for key, value in node.value if key.tag == _MERGE_TAG):
            for source in merged.value if isinstance(merged, SequenceNode) else [merged]:
                data = self.build(source, path)
                if isinstance(data, dict):
                    result.update({k: v for k, v in data.items() if k not in result})
        first_seen: dict[str, Position] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in first_seen:
                self._error(
                    key_node,
                    "config.duplicate_key",
                    f"duplicate key '{key}' in {format_path(path)}",
                    f"first defined at line {first_seen[key][0]}; a key may appear once per mapping",
                )
                continue
            first_seen[key] = _position(key_node)
            self.source_map.keys[(*path, key)] = _position(key_node)
            result[key] = self.build(value_node, (*path, key))
        self.source_map.values[path] = _position(node)
        return result

    def _key(self, node: Node, path: JsonPath) -> str | None:
        if not isinstance(node, ScalarNode):
            self._error(node, "config.invalid_type", f"{format_path(path)}: mapping keys must be scalars")
            return None
        value = self._constructor.construct_object(node)
        # Non-string scalar keys (``200:``, ``on:``) are taken as written: JSON keys are strings.
        return value if isinstance(value, str) else str(node.value)

    def _error(self, node: Node, code: str, message: str, hint: str | None = None) -> None:
        line, col = _position(node)
        self.diagnostics.append(
            Diagnostic(file=self.source_map.file, line=line, col=col, code=code, message=message, hint=hint)
        )
