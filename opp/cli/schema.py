"""``opp schema``: write (or ``--check``) the JSON Schema of gateway.yaml for editors and CI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opp.config.json_schema import render_gateway_schema

__all__ = ["DEFAULT_OUTPUT", "HELP", "add_arguments", "run"]

HELP = "Write the JSON Schema of gateway.yaml (--check: fail when the committed file is stale)."
DEFAULT_OUTPUT = "schema/gateway.schema.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``--output`` and ``--check``."""
    parser.add_argument(
        "--output",
        default=DEFAULT_OUTPUT,
        help=f"where to write it, '-' for stdout (default: {DEFAULT_OUTPUT})",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if --output differs from the generated schema"
    )


def run(args: argparse.Namespace) -> int:
    """Write the schema, print it, or compare it with the file; 0 on success."""
    text = render_gateway_schema()
    output: str = args.output
    if args.check:
        target = Path(output)
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current != text:
            print(f"{output} is stale: run `opp schema --output {output}`", file=sys.stderr)
            return 1
        print(f"{output}: up to date")
        return 0
    if output == "-":
        sys.stdout.write(text)
        return 0
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0
