"""``opp console-link``: print a one-time sign-in link to the reviewer console.

``opp console-link [FILE] --role approver --name alice [--next /console/drafts/ID] [--url BASE]``
stores the link's SHA-256 in the configured store (so the running server, which shares it, accepts
it) and prints the URL once. The link works once, within ``console.link_ttl``; opening it shows a
"Sign in" button that starts a session with the given name and roles.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from opp.cli.common import load_plan_or_report
from opp.compile.oauth import BIND_URL_ENV
from opp.compile.plan import Plan
from opp.console.sessions import ROLES, ConsoleSessions
from opp.console.settings import ConsoleSettings
from opp.errors import OppError
from opp.http.runtime import Runtime

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Print a one-time sign-in link to the reviewer console (/console)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", nargs="?", default="gateway.yaml", help="config file (default: ./gateway.yaml)"
    )
    parser.add_argument(
        "--role", action="append", choices=list(ROLES), required=True, help="console role (repeatable)"
    )
    parser.add_argument("--name", required=True, help="who signs in (shown in the audit log)")
    parser.add_argument("--next", dest="next_path", help="console page to open after sign-in")
    parser.add_argument(
        "--url", help="the gateway's base URL, as `opp serve` printed it (default: gateway.public_url)"
    )


async def _issue(plan: Plan, args: argparse.Namespace) -> str:
    runtime = Runtime(plan)
    await runtime.store.open()
    try:
        sessions = ConsoleSessions(runtime.store, runtime.clock, ConsoleSettings.of(plan))
        return await sessions.issue_link(args.name, tuple(dict.fromkeys(args.role)), args.next_path)
    finally:
        await runtime.store.close()


def run(args: argparse.Namespace) -> int:
    if args.url:  # the server's public URL when its config leaves it unset
        os.environ[BIND_URL_ENV] = args.url.rstrip("/")
    plan = load_plan_or_report(args.file)
    if plan is None:
        return 1
    if not plan.config.console.enabled:
        print("opp console-link: the console is disabled (console.enabled: false).", file=sys.stderr)
        return 1
    if plan.config.store.kind == "memory":
        print("opp console-link: needs a store the server shares (store.kind: sqlite).", file=sys.stderr)
        return 1
    try:
        link = asyncio.run(_issue(plan, args))
    except OppError as error:
        print(f"opp console-link: {error}", file=sys.stderr)
        return 1
    print(link)
    return 0
