"""The ``opp`` command line: one subcommand per module of ``opp.cli``."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Sequence

__all__ = ["main"]

_COMMANDS: dict[str, str] = {
    "serve": "opp.cli.serve",
    "migrate": "opp.cli.migrate",
    "check": "opp.cli.check",
    "schema": "opp.cli.schema",
    "token": "opp.cli.token",
    "proof": "opp.cli.proof",
    "conformance": "opp.cli.conformance",
    "docs": "opp.cli.docs",
    "audit": "opp.cli.audit",
    "explain": "opp.cli.explain",
    "console-link": "opp.cli.console_link",
    "import": "opp.cli.import_tools",
}


def _version() -> str:
    try:
        return importlib.metadata.version("opp")
    except importlib.metadata.PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


def _selected(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (its first non-option word), if it is one of ours."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return first if first in _COMMANDS else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that subcommand's module is imported (the others are names;
    ``""``: none is).

    Importing every command module costs the start-up of the whole gateway (Litestar, the MCP
    SDK, …); a command that runs imports only what it needs.
    """
    parser = argparse.ArgumentParser(prog="opp", description="OpenPort Protocol gateway")
    parser.add_argument("--version", action="version", version=f"opp {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in _COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name)
            continue
        module = importlib.import_module(module_name)
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    listing = not words or any(word in {"-h", "--help"} for word in words[:1])
    parser = build_parser(None if listing else _selected(words) or "")
    args = parser.parse_args(words)
    if args.command is None:  # a bare `opp`: the help, not an argparse error
        parser.print_help()
        return 0
    code: int = args._run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
