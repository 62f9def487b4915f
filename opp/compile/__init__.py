"""The compile phase: ``gateway.yaml`` → :class:`Plan`, the one path ``opp check`` and ``opp serve`` share."""

from __future__ import annotations

import os
from collections.abc import Mapping

from opp.compile.compiler import compile_plan
from opp.compile.plan import Plan
from opp.config.loader import load_config

__all__ = ["Plan", "compile_file", "compile_plan"]


def compile_file(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Plan:
    """Load and compile a ``gateway.yaml``.

    Args:
        path: The file; diagnostics name it exactly as given.
        environ: For ``${VAR}`` expansion in backend headers (default: ``os.environ``).

    Raises:
        ConfigError: With every diagnostic of the load phase, or else of the compile phase.
    """
    config, source_map = load_config(path)
    return compile_plan(config, source_map, path=path, environ=os.environ if environ is None else environ)
