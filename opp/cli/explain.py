"""``opp explain``: show how the gateway would decide one tool call, step by step, sending no traffic.

Who calls: ``--token`` (an opaque key looked up in the configured store; ``-`` reads it from
stdin), ``--app ID`` (any key of that app), or neither for a hypothetical caller; ``--scopes``,
``--tenant`` and ``--policy-data`` override what the app has. What is called: ``--tool NAME
--args JSON`` (reads and actions alike), from ``--ip``, optionally as ``--method``/``--path`` and
at ``--at`` (RFC 3339). Resource lookups go to the real backends, which are started and closed.

Exit status: 0 when the call would be allowed, 1 when denied, 2 on a usage or config error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec

from opp.cli.common import load_plan_or_report
from opp.clock import Clock, FrozenClock, SystemClock
from opp.compile.plan import Plan
from opp.explain import CallSpec, Explainer, ExplainError, Explanation, Subject, render_json, render_text
from opp.parsing import time_or_none
from opp.store.factory import open_configured_store

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Explain how the gateway would decide one tool call (no traffic is sent)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the caller, the call and the output format."""
    parser.add_argument(
        "file", nargs="?", default="gateway.yaml", help="config file (default: ./gateway.yaml)"
    )
    who = parser.add_argument_group("caller")
    who.add_argument("--token", help="an agent key (op_…) to look up in the store; '-' reads stdin")
    who.add_argument("--app", help="explain for any key of this app (no credential needed)")
    who.add_argument("--scopes", help="comma-separated granted scopes instead of the app's")
    who.add_argument("--tenant", help="the caller's tenant (org id) instead of the app's")
    who.add_argument("--policy-data", metavar="JSON", help="the app's data policy instead of its own")
    what = parser.add_argument_group("call")
    what.add_argument("--tool", required=True, help="the tool name (read or action)")
    what.add_argument("--args", default="{}", metavar="JSON", help="the tool input as a JSON object")
    what.add_argument("--ip", help="the client address (default: unknown)")
    what.add_argument("--method", help="the HTTP method CEL sees as request.method")
    what.add_argument("--path", help="the path CEL sees as request.path")
    what.add_argument("--at", metavar="TIME", help="evaluate at this RFC 3339 time (default: now)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise ExplainError(f"{option}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ExplainError(f"{option}: expected a JSON object")
    return value


def _clock(at: str | None) -> Clock:
    if at is None:
        return SystemClock()
    moment = time_or_none(at)
    if moment is None:
        raise ExplainError(f"--at: not an RFC 3339 time (years 0001-9999 in UTC): {at!r}")
    return FrozenClock(moment)


def _subject(args: argparse.Namespace) -> Subject:
    if args.token is not None and args.app is not None:
        raise ExplainError("give --token or --app, not both")
    from_stdin = args.token == "-"  # noqa: S105 - '-' means "read the token from stdin"
    token = sys.stdin.readline().strip() if from_stdin else args.token
    scopes = (
        tuple(s.strip() for s in args.scopes.split(",") if s.strip()) if args.scopes is not None else None
    )
    policy = _json_object(args.policy_data, "--policy-data") if args.policy_data is not None else None
    return Subject(token=token, app_id=args.app, scopes=scopes, tenant=args.tenant, policy_data=policy)


async def explain_call(plan: Plan, clock: Clock, subject: Subject, call: CallSpec) -> Explanation:
    """Open the configured store and the backends, explain the call, close them all."""
    store = open_configured_store(plan.store, clock)
    await store.open()
    started = []
    try:
        explainer = Explainer(plan, store, clock)
        explainer.tool(call.tool)  # an unknown tool fails before any backend starts
        for runtime in plan.runtimes.values():
            await runtime.start()
            started.append(runtime)
        return await explainer.explain(subject, call)
    finally:
        for runtime in reversed(started):
            await runtime.close()
        await store.close()


def run(args: argparse.Namespace) -> int:
    """0 when the call would be allowed, 1 when denied, 2 on a usage or config error."""
    plan = load_plan_or_report(args.file)
    if plan is None:
        return 2
    try:
        call = CallSpec(
            tool=args.tool,
            args=_json_object(args.args, "--args"),
            ip=args.ip,
            method=args.method,
            path=args.path,
        )
        explanation = asyncio.run(explain_call(plan, _clock(args.at), _subject(args), call))
    except ExplainError as error:
        print(f"opp explain: {error}", file=sys.stderr)
        return 2
    print(render_json(explanation) if args.format == "json" else render_text(explanation))
    return 0 if explanation.allowed else 1
