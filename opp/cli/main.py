"""The ``opp`` command line: one subcommand per module of ``opp.cli``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

_COMMANDS: dict[str, str] = {
    "serve": "opp.cli.serve",
    "check": "opp.cli.check",
    "schema": "opp.cli.schema",
    "token": "opp.cli.token",
    "proof": "opp.cli.proof",
    "conformance": "opp.cli.conformance",
    "docs": "opp.cli.docs",
    "audit": "opp.cli.audit",
    "explain": "opp.cli.explain",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opp", description="OpenPort Protocol gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name in _COMMANDS.items():
        module = importlib.import_module(module_name)
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args._run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
