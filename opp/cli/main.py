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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opp", description="OpenPort Protocol gateway")
    parser.add_argument("--version", action="version", version=f"opp {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in _COMMANDS.items():
        module = importlib.import_module(module_name)
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `opp`: the help, not an argparse error
        parser.print_help()
        return 0
    code: int = args._run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
