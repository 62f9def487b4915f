"""``opp serve [FILE] [--host --port --workers]``: compile, prepare the store, run the gateway.

The server is granian (Rust HTTP core, ASGI): on this 2-core machine a bare Litestar route does
about 21k requests/s under granian with 2 workers against about 16k under uvicorn (see
``benchmarks/``). Startup compiles the config first and refuses to start on any error, applies
store migrations (SQLite and memory; a PostgreSQL schema that is behind is refused with a message
naming ``opp migrate FILE``), creates the bootstrap app on an empty store, then spawns the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from granian.constants import Interfaces

from opp.cli.common import load_plan_or_report, shown_command
from opp.cli.serve_checks import PortInUse, check_port_free, public_url_warning
from opp.cli.serve_granian import GatewayServer, granian_options, metrics_directory
from opp.compile.oauth import BIND_URL_ENV
from opp.compile.plan import Plan
from opp.compile.server import server_limits
from opp.errors import OppError
from opp.http.asgi import CONFIG_ENV, LOG_LEVEL_ENV, WORKERS_ENV, plan_for_workers
from opp.http.reload import SERVE_PID_ENV
from opp.http.runtime import Runtime
from opp.observability.logs import configure_logging, granian_log_config
from opp.store.migrations import SchemaBehindError, SchemaVersionError

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Serve the gateway described by a gateway.yaml."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", nargs="?", default="gateway.yaml", help="config file (default: ./gateway.yaml)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (default: 8080)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


async def prepare(plan: Plan, base_url: str) -> str | None:
    """Open (SQLite: migrate) the store, sync declared apps, bootstrap the demo app; return a hint."""
    runtime = Runtime(plan)
    await runtime.store.open()
    try:
        created = await runtime.integrations.bootstrap()
        await runtime.integrations.sync_declared(plan.declared_apps)
    finally:
        await runtime.store.close()
    if created is None:
        return None
    return (
        f"Created app {created.id} ({created.name}) in the empty store.\n"
        f"Get a token for it:  TOKEN=$({shown_command()} token --app {created.id} {plan.source})\n"
        f'Then:  curl -H "Authorization: Bearer $TOKEN" {base_url}/api/agent/v1/ledgers'
    )


def run(args: argparse.Namespace) -> int:
    host = f"[{args.host}]" if ":" in args.host else args.host
    base_url = f"http://{host}:{args.port}"
    try:
        check_port_free(args.host, args.port)
    except PortInUse as busy:
        print(f"opp: {busy}", file=sys.stderr)
        return 1
    os.environ[BIND_URL_ENV] = base_url  # the public URL when gateway.public_url is unset (workers too)
    plan = load_plan_or_report(args.file)
    if plan is None:
        return 1
    warning = public_url_warning(plan.config.gateway.public_url, args.host, args.port)
    if warning:
        print(f"opp: warning: {warning}", file=sys.stderr)
    try:
        plan = plan_for_workers(plan, args.workers)
    except ValueError as refused:
        print(f"opp: {refused}", file=sys.stderr)
        return 1
    try:
        hint = asyncio.run(prepare(plan, base_url))
    except (SchemaBehindError, SchemaVersionError) as schema:
        print(f"opp: not starting: {schema}", file=sys.stderr)
        return 1
    except OppError as unavailable:
        print(f"opp: not starting: the {plan.store.kind} store: {unavailable.message}", file=sys.stderr)
        return 1
    if hint:
        print(hint, file=sys.stderr)
    os.environ[CONFIG_ENV] = os.path.abspath(args.file)
    os.environ[WORKERS_ENV] = str(args.workers)
    os.environ[SERVE_PID_ENV] = str(os.getpid())
    os.environ[LOG_LEVEL_ENV] = args.log_level
    observability = plan.config.observability
    configure_logging(observability.log_format, args.log_level)
    print(
        f"opp: serving {args.file} on {base_url} ({args.workers} worker(s))",
        file=sys.stderr,
    )
    with metrics_directory(args.workers, observability.metrics):
        GatewayServer(
            "opp.http.asgi:app_from_env",
            address=args.host,
            port=args.port,
            interface=Interfaces.ASGI,
            workers=args.workers,
            factory=True,
            log_level=args.log_level,
            log_dictconfig=granian_log_config(observability.log_format),
            **granian_options(server_limits(plan.config.server)),
        ).serve()
    return 0
