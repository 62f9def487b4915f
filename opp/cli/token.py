"""``opp token``: create a credential in the configured store and print only the token.

``opp token [--app ID] [FILE]`` adds a key to an integration app (default: the bootstrap app, or
the only app). ``opp token --admin --role ROLE`` creates an admin-plane token. The plaintext is
printed once and never stored.

``opp token --oauth [--app ID] [--scope S] [--url BASE] [FILE]`` is an OAuth client of the running
gateway's development authorization server (:mod:`opp.cli.oauth_client`): it prints a DPoP-bound
access token on the first line and ``DPoP key: <client file>`` on the second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from opp.auth.tokens import ADMIN_TOKEN_PREFIX, hash_token, token_prefix
from opp.cli.common import load_plan_or_report
from opp.cli.oauth_client import OAuthClientError, client_file_path, load_or_create_client, request_token
from opp.clock import new_token
from opp.codes import ReasonCode
from opp.compile.oauth import BIND_URL_ENV
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
    parser.add_argument(
        "--oauth",
        action="store_true",
        help="get a DPoP-bound OAuth access token from the running gateway's development server",
    )
    parser.add_argument("--scope", help="with --oauth: space-separated scopes (default: all of the app's)")
    parser.add_argument(
        "--url", help="with --oauth: the gateway's base URL, as `opp serve` printed it (default: public_url)"
    )


async def _choose_app(runtime: Runtime, plan: Plan, app_id: str | None) -> str:
    """``app_id``, or the bootstrap app, or the only app (after syncing the declared apps)."""
    await runtime.integrations.bootstrap()
    await runtime.integrations.sync_declared(plan.declared_apps)
    if app_id is not None:
        return app_id
    bootstrap = plan.config.bootstrap.bootstrap_app
    apps = await runtime.store.apps.list()
    if bootstrap is not None:
        return bootstrap.id
    if len(apps) == 1:
        return apps[0].id
    raise OppError(ReasonCode.VALIDATION, f"{len(apps)} apps in the store; choose one with --app.")


async def _agent_key(runtime: Runtime, plan: Plan, app_id: str | None, name: str) -> str:
    _, token = await runtime.integrations.add_key(await _choose_app(runtime, plan, app_id), name)
    return token


async def _oauth_client_file(runtime: Runtime, plan: Plan, app_id: str | None) -> str:
    """The app's client file, created (with a new agent key as its secret) on first use."""
    chosen = await _choose_app(runtime, plan, app_id)
    path = client_file_path(plan, chosen)

    async def mint_secret() -> str:
        _, secret = await runtime.integrations.add_key(chosen, "OAuth client secret")
        return secret

    await load_or_create_client(path, chosen, mint_secret)
    return str(path)


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
        if args.oauth:
            return await _oauth_client_file(runtime, plan, args.app)
        return await _agent_key(runtime, plan, args.app, args.name)
    finally:
        await runtime.store.close()


def _check_oauth(plan: Plan, args: argparse.Namespace) -> None:
    if args.admin:
        raise OppError(ReasonCode.VALIDATION, "--oauth and --admin cannot be combined.")
    if not plan.oauth.dev_server.enabled:
        raise OppError(
            ReasonCode.VALIDATION, "--oauth needs oauth.enabled and oauth.dev_server.enabled in the config."
        )
    if plan.config.store.kind == "memory":
        raise OppError(ReasonCode.VALIDATION, "--oauth needs a store the server shares (store.kind: sqlite).")


def run(args: argparse.Namespace) -> int:
    if args.oauth and args.url:  # the server's public URL when its config leaves it unset
        os.environ[BIND_URL_ENV] = args.url.rstrip("/")
    plan = load_plan_or_report(args.file)
    if plan is None:
        return 1
    try:
        if args.oauth:
            _check_oauth(plan, args)
        credential = asyncio.run(_run(plan, args))
        if args.oauth:
            token = request_token(
                credential, args.url or plan.oauth.public_url, plan.oauth.resource, args.scope
            )
            print(token)
            print(f"DPoP key: {credential}")
            return 0
    except (OppError, OAuthClientError) as error:
        print(f"opp token: {error}", file=sys.stderr)
        return 1
    print(credential)
    return 0
