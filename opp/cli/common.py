"""Helpers shared by CLI commands: compile a config or print its diagnostics."""

from __future__ import annotations

import sys

from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.config.diagnostics import ConfigError

__all__ = ["load_plan_or_report"]


def load_plan_or_report(path: str) -> Plan | None:
    """The compiled Plan, or None after printing every diagnostic to stderr."""
    try:
        return compile_file(path)
    except ConfigError as error:
        for diagnostic in error.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        print(f"{len(error.diagnostics)} error(s); not starting.", file=sys.stderr)
        return None
