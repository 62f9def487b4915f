"""Helpers shared by CLI commands: compile a config or print its diagnostics."""

from __future__ import annotations

import os
import shutil
import sys

from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.config.diagnostics import ConfigError

__all__ = ["load_plan_or_report", "shown_command"]


def load_plan_or_report(path: str) -> Plan | None:
    """The compiled Plan, or None after printing every diagnostic to stderr."""
    try:
        return compile_file(path)
    except ConfigError as error:
        for diagnostic in error.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        print(f"{len(error.diagnostics)} error(s); not starting.", file=sys.stderr)
        return None


def shown_command(argv0: str | None = None, path: str | None = None) -> str:
    """How to run ``opp`` again from this directory, for hints printed to the user.

    ``opp`` when the ``opp`` on ``PATH`` is this very program; otherwise the program's path as the
    user can type it (``.venv/bin/opp`` from the project root), or ``python -m opp``.
    """
    program = argv0 if argv0 is not None else sys.argv[0]
    if os.path.basename(program) == "__main__.py":  # python -m opp
        return f"{_typed_path(sys.executable)} -m opp"
    found = shutil.which("opp", path=path)
    if found and os.path.realpath(found) == os.path.realpath(program):
        return "opp"
    return _typed_path(program)


def _typed_path(program: str) -> str:
    absolute = os.path.abspath(program)
    relative = os.path.relpath(absolute)
    return relative if not relative.startswith("..") else absolute
