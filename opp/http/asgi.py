"""ASGI entry point for server workers: ``OPP_CONFIG`` names the ``gateway.yaml`` to serve.

Each worker process compiles the Plan itself (cheap, deterministic: the parent already compiled
the same file and refused to start on errors) and opens its own store connection.
"""

from __future__ import annotations

import dataclasses
import functools
import os

from opp.compile.plan import Plan
from opp.http.app import serving_app
from opp.http.collector import settle_collector
from opp.http.reload import PlanSource, SwappableApp
from opp.http.runtime import Runtime
from opp.observability.logs import configure_logging

__all__ = ["app_from_env", "plan_for_workers"]

CONFIG_ENV = "OPP_CONFIG"
LOG_LEVEL_ENV = "OPP_LOG_LEVEL"
WORKERS_ENV = "OPP_WORKERS"
"""How many worker processes serve the plan (``opp serve --workers``): more than one shares counters."""
REPLAY_SLOTS = 1 << 20
"""Slots of the DPoP replay table the workers of a host share (``mmap://``, 32 MiB of file): a proof's
``jti`` is kept for ``max_age + max_future`` (65 s), so about 500,000 live proofs — 7,000 a second,
sustained — before a proof finds no free slot and is refused with 503 (use Redis beyond that)."""


def plan_for_workers(plan: Plan, workers: int) -> Plan:
    """``plan`` with rate-limit counters every worker shares when there are several (docs/RATE_LIMITS.md).

    Raises:
        ValueError: The rate limits cannot be shared as configured (the message says why).
    """
    shared = plan.rate_limits.for_workers(workers, plan.store_path)
    if shared is not plan.rate_limits:
        plan = dataclasses.replace(plan, rate_limits=shared)
    replay = plan.oauth.dpop
    if workers > 1 and plan.oauth.enabled and replay.replay_storage_uri == "memory://":
        if plan.store_path == ":memory:":
            raise ValueError(
                "oauth.dpop: several workers with a memory store have no shared file for the DPoP "
                "replay cache; set oauth.dpop.replay_storage to mmap:///PATH or redis://HOST:PORT"
            )
        uri = f"mmap:///{plan.store_path}-dpop-replay.seen?slots={REPLAY_SLOTS}"
        oauth = dataclasses.replace(plan.oauth, dpop=dataclasses.replace(replay, replay_storage_uri=uri))
        plan = dataclasses.replace(plan, oauth=oauth)
    return plan


def app_from_env() -> SwappableApp:
    """The worker's app: the Plan of ``OPP_CONFIG``, reloaded on ``SIGHUP`` (docs/OPERATIONS.md)."""
    workers = int(os.environ.get(WORKERS_ENV, "1"))
    source = PlanSource(
        os.environ.get(CONFIG_ENV, "gateway.yaml"), functools.partial(plan_for_workers, workers=workers)
    )
    sha256 = source.digest()
    plan = source.compile()
    configure_logging(plan.config.observability.log_format, os.environ.get(LOG_LEVEL_ENV, "info"))
    app = SwappableApp(Runtime(plan), source, build=serving_app, handle_sighup=True, sha256=sha256)
    settle_collector()
    return app
