"""Load ``gateway.yaml``: read, compose, validate structurally, convert to :class:`GatewayConfig`.

Every problem the load phase can find is reported at once, positioned: YAML syntax (the load stops
there), duplicate keys, and every schema violation. Only a structurally valid document is converted
with msgspec, which then cannot fail in practice.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import msgspec

from opp.config.diagnostics import ConfigError, Diagnostic
from opp.config.schema import GatewayConfig
from opp.config.source_map import JsonPath, SourceMap
from opp.config.structural import structural_diagnostics
from opp.config.yaml_document import parse_yaml

__all__ = ["load_config"]

_MSGSPEC_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MSGSPEC_PART = re.compile(r"\.(\w+)|\[(\d+)\]|\[(?:'|\")([^'\"]*)(?:'|\")\]")


def load_config(path: str | os.PathLike[str]) -> tuple[GatewayConfig, SourceMap]:
    """Load and structurally validate a ``gateway.yaml``.

    Args:
        path: The file; diagnostics name it exactly as given.

    Returns:
        The frozen config and the source map the compiler uses to position its own diagnostics.

    Raises:
        ConfigError: With every load-phase diagnostic, sorted.
    """
    file = str(path)
    text = _read(file)
    data, source_map, diagnostics = parse_yaml(text, file)
    diagnostics += structural_diagnostics(data, source_map)
    if diagnostics:
        raise ConfigError(diagnostics)
    try:
        config = msgspec.convert(data, GatewayConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError([_from_msgspec(exc, source_map)]) from None
    return config, source_map


def _read(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        message, hint = (
            f"no such file: {file}",
            "pass the path of a gateway.yaml, e.g. opp check gateway.yaml",
        )
    except IsADirectoryError:
        message, hint = f"{file} is a directory", "pass the path of a gateway.yaml file"
    except UnicodeDecodeError as exc:
        message, hint = f"{file} is not UTF-8 text: {exc.reason}", "save the file as UTF-8"
    except OSError as exc:
        message, hint = f"cannot read {file}: {exc.strerror}", None
    code = "config.file_not_found" if message.startswith("no such file") else "config.unreadable"
    raise ConfigError([Diagnostic(file=file, line=1, col=1, code=code, message=message, hint=hint)])


def _from_msgspec(exc: msgspec.ValidationError, source_map: SourceMap) -> Diagnostic:
    """Position a msgspec error (``... - at `$.tools[0].name```) — a safety net behind the schema."""
    text = str(exc)
    path: JsonPath = ()
    match = _MSGSPEC_PATH.search(text)
    if match:
        parts = _MSGSPEC_PART.findall(match.group("path"))
        path = tuple(int(index) if index else (name or quoted) for name, index, quoted in parts)
        text = text[: match.start()]
    line, col = source_map.value(path)
    return Diagnostic(file=source_map.file, line=line, col=col, code="config.invalid_value", message=text)
