"""``opp check [FILE]``: load and compile a gateway.yaml exactly as ``opp serve`` does, print every problem.

Text output (OPA-style), one diagnostic per line, sorted, then a count::

    gateway.yaml:12:5: scope.unknown: scope 'ledger.raed' is not declared (hint: did you mean 'ledger.read'?)
    gateway.yaml: 1 error

``--format json`` prints ``{"ok": bool, "diagnostics": [{file, line, col, code, message, hint}]}``.
Exit status: 0 when the file compiles, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from opp.compile import compile_file
from opp.config.diagnostics import ConfigError, Diagnostic

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Check a gateway.yaml: print every error with its position, code and hint."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``FILE`` and ``--format``."""
    parser.add_argument(
        "file", nargs="?", default="gateway.yaml", help="the config (default: ./gateway.yaml)"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    """Compile ``args.file``; print the outcome; 0 when it compiles, 1 otherwise."""
    file: str = args.file
    try:
        plan = compile_file(file)
    except ConfigError as exc:
        _print_failure(file, exc.diagnostics, args.format)
        return 1
    if args.format == "json":
        _print_json(ok=True, diagnostics=[])
    else:
        counts = (
            f"{len(plan.tools)} tools, {len(plan.config.policies)} policies, {len(plan.declared_apps)} apps"
        )
        print(f"{file}: ok ({counts})")
    return 0


def _print_failure(file: str, diagnostics: list[Diagnostic], output_format: str) -> None:
    if output_format == "json":
        _print_json(ok=False, diagnostics=diagnostics)
        return
    for diagnostic in diagnostics:
        print(diagnostic.format())
    count = len(diagnostics)
    print(f"{file}: {count} error{'' if count == 1 else 's'}")


def _print_json(*, ok: bool, diagnostics: list[Diagnostic]) -> None:
    document = {"ok": ok, "diagnostics": diagnostics}
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(document), indent=2).decode() + "\n")
