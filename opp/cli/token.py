"""``opp token``: create a credential in the configured store and print only the token.

``opp token [--app ID] [FILE]`` adds a key to an integration app (default: the bootstrap app, or
the only app). ``opp token --admin --role ROLE`` creates an admin-plane token. The plaintext is
printed once and never stored.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from opp.auth.tokens import ADMIN_TOKEN_PREFIX, hash_token, token_prefix
from opp.cli.common import load_plan_or_report
from opp.clock import new_token
from opp.codes import ReasonCode
from opp.compile.plan import Plan
from opp.errors import OppError
from opp.http.runtime import Runtime
from opp.store.records import AdminTokenRecord

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Create an agent key (or an admin token) and print the token once."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", nargs="?", default="gateway.yaml", help="config file (default: ./gateway.yaml)"
    )
    parser.add_argument("--app", help="integration app id (default: the bootstrap app)")
    parser.add_argument("--name", default="CLI key", help="a label for the credential")
    parser.add_argument("--admin", action="store_true", help="create an admin-plane token instead")
    parser.add_argument(
        "--role",
        action="append",
        choices=["admin", "approver", "auditor"],
        help="role of the admin token (repeatable; default admin)",
    )


async def _agent_key(runtime: Runtime, plan: Plan, app_id: str | None, name: str) -> str:
    await runtime.integrations.bootstrap()
    await runtime.integrations.sync_declared(plan.declared_apps)
    if app_id is None:
        bootstrap = plan.config.bootstrap.bootstrap_app
        apps = await runtime.store.apps.list()
        if bootstrap is not None:
            app_id = bootstrap.id
        elif len(apps) == 1:
            app_id = apps[0].id
        else:
            raise OppError(ReasonCode.VALIDATION, f"{len(apps)} apps in the store; choose one with --app.")
    _, token = await runtime.integrations.add_key(app_id, name)
    return token


async def _admin_token(runtime: Runtime, name: str, roles: list[str]) -> str:
    token = new_token(ADMIN_TOKEN_PREFIX)
    await runtime.store.admin_tokens.create(
        AdminTokenRecord(
            id=runtime.ids.new("adm"),
            name=name,
            roles=tuple(roles),
            token_hash=hash_token(token),
            token_prefix=token_prefix(token),
            created_at=runtime.clock.now(),
        )
    )
    return token


async def _run(plan: Plan, args: argparse.Namespace) -> str:
    runtime = Runtime(plan)
    await runtime.store.open()
    try:
        if args.admin:
            return await _admin_token(runtime, args.name, args.role or ["admin"])
        return await _agent_key(runtime, plan, args.app, args.name)
    finally:
        await runtime.store.close()


def run(args: argparse.Namespace) -> int:
    plan = load_plan_or_report(args.file)
    if plan is None:
        return 1
    try:
        token = asyncio.run(_run(plan, args))
    except OppError as error:
        print(f"opp token: {error.message}", file=sys.stderr)
        return 1
    print(token)
    return 0
