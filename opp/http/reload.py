"""Live reload: compile a new Plan from the same file and swap it in without dropping a request.

:class:`SwappableApp` is the ASGI application a worker serves. It holds the current *generation*
(a Plan's Litestar app and its :class:`Runtime`) and dispatches every request to the generation
current when the request arrived, so in-flight requests finish on the Plan they started with.
A reload (``SIGHUP`` or ``POST /api/agent-admin/v1/reload``) compiles the file off the event loop;
a config that does not compile is refused with its diagnostics and the old Plan keeps serving.
On success the new generation (sharing the store, the audit writer and, when ``rate_limits`` did
not change, the rate-limit counters) starts its backends and becomes current; the old one closes
its backends once its last request has finished.

Each worker process reloads itself: ``opp serve`` forwards ``SIGHUP`` to every worker (instead of
granian's respawn), and an admin reload signals the others the same way. A ``SIGHUP`` finding the
file byte-identical to the Plan being served does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from opp.codes import ReasonCode
from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.config.diagnostics import ConfigError, Diagnostic
from opp.http.limits import guard_limits
from opp.http.metrics import ASGIApp, Receive, Scope, Send, instrument
from opp.http.runtime import Runtime
from opp.observability.exposition import periodic_flush
from opp.observability.metrics import RECORDER
from opp.store.records import AuditEvent

__all__ = ["RELOAD_ACTION", "SERVE_PID_ENV", "PlanSource", "ReloadOutcome", "SwappableApp"]

RELOAD_ACTION = "agent_admin.reload"

SERVE_PID_ENV = "OPP_SERVE_PID"
"""Set by ``opp serve`` to its own pid: the process that forwards ``SIGHUP`` to every worker."""

_log = logging.getLogger("opp.reload")
Status = Literal["success", "refused", "failed", "unchanged"]
AppBuilder = Callable[[Plan, Runtime], ASGIApp]


@dataclass(frozen=True, slots=True)
class PlanSource:
    """Where Plans come from: ``path``, compiled, then adapted by ``prepare`` (e.g. for N workers)."""

    path: str
    prepare: Callable[[Plan], Plan] = lambda plan: plan

    def digest(self) -> str:
        """SHA-256 of the file's bytes (``"-"`` when it cannot be read: compiling will say why)."""
        try:
            with open(self.path, "rb") as file:
                return hashlib.sha256(file.read()).hexdigest()
        except OSError:
            return "-"

    def compile(self) -> Plan:
        """Raises ConfigError with every diagnostic."""
        return self.prepare(compile_file(self.path))


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    status: Status
    generation: int
    """The generation serving after the reload (unchanged unless ``success``)."""
    tools: int
    source: str
    sha256: str
    trigger: str
    diagnostics: tuple[Diagnostic, ...] = ()

    def details(self) -> dict[str, Any]:
        """What the audit event records (diagnostics counted, not copied)."""
        found: dict[str, Any] = {
            "trigger": self.trigger,
            "outcome": self.status,
            "generation": self.generation,
            "source": self.source,
            "sha256": self.sha256,
            "pid": os.getpid(),
        }
        if self.diagnostics:
            found["diagnostics"] = len(self.diagnostics)
            found["first_diagnostic"] = self.diagnostics[0].format()
        return found


_AUDITED: dict[Status, tuple[Literal["success", "denied", "failed"], ReasonCode]] = {
    "success": ("success", ReasonCode.SUCCESS),
    "refused": ("denied", ReasonCode.VALIDATION),
    "failed": ("failed", ReasonCode.INTERNAL_ERROR),
}


def _signal_event(runtime: Runtime, outcome: ReloadOutcome) -> AuditEvent:
    """The audit event of a ``SIGHUP`` reload (an admin reload is audited by its admin call)."""
    status, code = _AUDITED[outcome.status]
    return AuditEvent(
        id=runtime.ids.new("aud"),
        action=RELOAD_ACTION,
        status=status,
        code=code.value,
        created_at=runtime.clock.now(),
        principal={"kind": "signal", "name": "SIGHUP"},
        details=outcome.details(),
    )


@dataclass(slots=True, eq=False)
class _Generation:
    number: int
    runtime: Runtime
    handle: ASGIApp
    sha256: str
    inflight: int = 0
    retired: bool = False
    drained: asyncio.Event = field(default_factory=asyncio.Event)


class SwappableApp:
    """The ASGI app of a worker: the current generation, swapped atomically on reload."""

    def __init__(
        self,
        runtime: Runtime,
        source: PlanSource,
        *,
        build: AppBuilder,
        handle_sighup: bool = False,
        sha256: str | None = None,
    ) -> None:
        """Args:
        runtime: The first generation's runtime; it owns the store and the audit writer.
        source: Where reloads compile from.
        build: Plan + runtime → the generation's ASGI app (:func:`opp.http.app.create_app`).
        handle_sighup: Reload on ``SIGHUP`` (installed at startup; only in a process's main thread).
        sha256: Digest of the file the first Plan came from (default: read now).
        """
        self._root = runtime
        self._source = source
        self._build = build
        self._handle_sighup = handle_sighup
        self._current = self._generation(1, runtime, sha256 or source.digest())
        self._retiring: set[_Generation] = set()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def plan(self) -> Plan:
        return self._current.runtime.plan

    @property
    def generation(self) -> int:
        return self._current.number

    def _generation(self, number: int, runtime: Runtime, sha256: str) -> _Generation:
        runtime.reloader = self
        plan = runtime.plan
        handle = instrument(guard_limits(self._build(plan, runtime), plan.config.server), plan)
        return _Generation(number, runtime, handle, sha256)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        generation = self._current
        generation.inflight += 1
        try:
            await generation.handle(scope, receive, send)
        finally:
            generation.inflight -= 1
            if generation.retired and generation.inflight == 0:
                generation.drained.set()

    async def reload(self, trigger: str) -> ReloadOutcome:
        """Compile the file again and swap the Plan in; never raises for a bad config."""
        async with self._lock:
            current = self._current
            sha256 = await asyncio.to_thread(self._source.digest)
            if trigger == "signal" and sha256 == current.sha256:
                return self._outcome("unchanged", trigger, sha256)
            try:
                plan = await asyncio.to_thread(self._source.compile)
            except ConfigError as error:
                return self._outcome("refused", trigger, sha256, tuple(error.diagnostics))
            except Exception:
                _log.exception("reload: compiling %s failed", self._source.path)
                return self._outcome("failed", trigger, sha256)
            runtime = current.runtime.successor(plan)
            try:
                await runtime.activate()
                successor = self._generation(current.number + 1, runtime, sha256)
            except Exception:
                _log.exception("reload: starting the new plan failed; keeping generation %d", current.number)
                await runtime.deactivate()
                return self._outcome("failed", trigger, sha256)
            self._current = successor
            self._retire(current)
            return self._outcome("success", trigger, sha256)

    def _outcome(
        self, status: Status, trigger: str, sha256: str, diagnostics: tuple[Diagnostic, ...] = ()
    ) -> ReloadOutcome:
        RECORDER.reload(status)
        outcome = ReloadOutcome(
            status=status,
            generation=self._current.number,
            tools=len(self.plan.tools),
            source=self._source.path,
            sha256=sha256,
            trigger=trigger,
            diagnostics=diagnostics,
        )
        level = logging.WARNING if status in ("refused", "failed") else logging.INFO
        _log.log(
            level,
            "reload %s (%s): generation %d",
            status,
            trigger,
            outcome.generation,
            extra=outcome.details(),
        )
        for diagnostic in diagnostics:
            _log.warning("reload refused: %s", diagnostic.format())
        return outcome

    @staticmethod
    def _mark_retired(generation: _Generation) -> None:
        """No new request starts on ``generation``; ``drained`` is set once none runs on it."""
        generation.retired = True
        if generation.inflight == 0:
            generation.drained.set()

    def _retire(self, old: _Generation) -> None:
        self._mark_retired(old)
        self._retiring.add(old)
        self._spawn(self._close_when_drained(old))

    async def _close_when_drained(self, old: _Generation) -> None:
        limit = max(30.0, 2 * old.runtime.plan.request_timeout_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(old.drained.wait(), limit)
        await old.runtime.deactivate()
        self._retiring.discard(old)

    async def _drain(self) -> None:
        """Before shutdown closes backends and the store: let in-flight requests finish.

        The server stops accepting before it sends ``lifespan.shutdown``, but requests already
        running would otherwise meet a stopped backend or a closed pool (a rolling update would
        fail them). Bounded by the longest a request may run (``server.request_timeout``), plus a
        second.
        """
        current = self._current
        self._mark_retired(current)
        waits = [generation.drained.wait() for generation in [*self._retiring, current]]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), current.runtime.plan.request_timeout_s + 1.0)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def signal_siblings(self) -> bool:
        """Ask ``opp serve`` to forward ``SIGHUP`` to every worker; False when not under ``opp serve``."""
        parent = os.getppid()
        if os.environ.get(SERVE_PID_ENV) != str(parent):
            return False
        os.kill(parent, signal.SIGHUP)
        return True

    async def _reload_on_signal(self) -> None:
        outcome = await self.reload("signal")
        if outcome.status != "unchanged":
            runtime = self._current.runtime
            runtime.audit.emit(_signal_event(runtime, outcome))
            await runtime.audit.flush()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._start()
                except Exception as exc:
                    _log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": type(exc).__name__})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self) -> None:
        await self._root.start()
        if self.plan.config.observability.metrics:
            self._spawn(periodic_flush())
        if self._handle_sighup:
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP, lambda: self._spawn(self._reload_on_signal())
            )

    async def _stop(self) -> None:
        if self._handle_sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        await self._drain()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for generation in [*self._retiring, self._current]:
            await generation.runtime.deactivate()
        self._retiring.clear()
        await self._root.stop()
