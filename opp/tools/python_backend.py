"""In-process tool backends: functions of an importable Python module.

A backend module exposes one function per tool (or resource lookup). When the module also defines
``setup(options, base_dir)``, the server calls it once at start and passes its return value (the
module's *state*: a database connection, a client…) as the second argument of every function::

    def setup(options: dict, base_dir: str) -> State: ...      # optional, sync or async
    def teardown(state: State) -> None: ...                     # optional, sync or async
    def list_items(call: ToolCall, state: State) -> dict: ...   # fn(call) when there is no setup

Functions may be ``async def`` or plain ``def``. Plain functions run directly on the event loop, so
they must be fast (an in-process SQLite query is fine; a network call is not: make it async).

Any exception other than :class:`~opp.errors.OppError` becomes ``agent.execution_failed`` with a
fixed message; the original is logged to ``opp.tools`` with the request id, never sent to clients.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from opp.codes import ReasonCode
from opp.config.diagnostics import did_you_mean
from opp.config.schema import PythonBackend
from opp.errors import OppError
from opp.tools.api import ToolCall
from opp.tools.errors import BackendResolutionError

__all__ = ["PythonInvoker", "PythonModuleRuntime", "import_backend_module", "resolve_function"]

_log = logging.getLogger("opp.tools")
_LIFECYCLE_HOOKS = frozenset({"setup", "teardown"})


def import_backend_module(name: str, base_dir: str | None = None) -> ModuleType:
    """Import a backend module, turning any import failure into ``backend.unknown_module``.

    ``base_dir`` (the directory of ``gateway.yaml``) is appended to ``sys.path`` so modules kept
    next to the config import by name; appending never shadows an installed package.
    """
    if base_dir is not None and base_dir not in sys.path:
        sys.path.append(base_dir)
    try:
        return importlib.import_module(name)
    except Exception as exc:  # a module may fail to import in any way; report it, never crash
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise BackendResolutionError(
            "backend.unknown_module",
            f"cannot import module '{name}' ({type(exc).__name__}: {reason})",
            "check the module name, that it is installed, or that it sits next to gateway.yaml",
        ) from None


def _public_callables(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None) or dir(module)
    return [
        name
        for name in names
        if not name.startswith("_")
        and name not in _LIFECYCLE_HOOKS
        and _is_entry_point(getattr(module, name, None))
    ]


def _is_entry_point(value: object) -> bool:
    return callable(value) and not isinstance(value, type)


def _find_function(module: ModuleType, name: str) -> Callable[..., Any]:
    candidate = None if name.startswith("_") or name in _LIFECYCLE_HOOKS else getattr(module, name, None)
    if candidate is None or not _is_entry_point(candidate):
        raise BackendResolutionError(
            "backend.unknown_function",
            f"module '{module.__name__}' has no function '{name}'",
            did_you_mean(name, _public_callables(module)),
        )
    fn: Callable[..., Any] = candidate
    return fn


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    return not inspect.isroutine(fn) and inspect.iscoroutinefunction(type(fn).__call__)


async def _run_hook(hook: Callable[..., Any], *args: Any) -> Any:
    result = hook(*args)
    return await result if inspect.isawaitable(result) else result


class PythonInvoker:
    """A bound backend function. Sync/async is decided once, here, not per call."""

    __slots__ = ("_fn", "_is_async", "_label", "_lookup", "_state", "can_block")

    def __init__(
        self, fn: Callable[..., Any], *, label: str, state: Callable[[], Any] | None, lookup: bool
    ) -> None:
        """Bind ``fn``; ``state`` returns the module state to pass as second argument (None: don't)."""
        self._fn = fn
        self._is_async = _is_async(fn)
        self.can_block = self._is_async
        """A synchronous function runs to its end before any timeout could fire: no timeout."""
        self._label = label
        self._state = state
        self._lookup = lookup

    async def __call__(self, call: ToolCall) -> Any:
        """Run the function; a lookup that raises ``agent.not_found`` yields None."""
        try:
            args = (call,) if self._state is None else (call, self._state())
            result = self._fn(*args)
            return await result if self._is_async else result
        except OppError as error:
            if self._lookup and error.code is ReasonCode.NOT_FOUND:
                return None
            raise
        except Exception:
            _log.error(
                "tool backend %s failed (request_id=%s)", self._label, call.context.request_id, exc_info=True
            )
            raise OppError(ReasonCode.EXECUTION_FAILED, "Tool backend failed.") from None


class PythonModuleRuntime:
    """A ``kind: python`` backend: its module (imported at build) and the state ``setup`` returned."""

    def __init__(self, name: str, module: ModuleType, *, options: dict[str, Any], base_dir: str) -> None:
        self.name = name
        self.module = module
        self._options = options
        self._base_dir = base_dir
        self._setup: Callable[..., Any] | None = getattr(module, "setup", None)
        self._teardown: Callable[..., Any] | None = getattr(module, "teardown", None)
        self._state: Any = None
        self._started = False

    @classmethod
    def load(cls, name: str, backend: PythonBackend, *, base_dir: str) -> PythonModuleRuntime:
        """Import the backend's module (no setup yet). Raises ``backend.unknown_module``."""
        module = import_backend_module(backend.module, base_dir)
        return cls(name, module, options=dict(backend.options), base_dir=base_dir)

    async def start(self) -> None:
        """Call the module's ``setup(options, base_dir)`` once and keep its state."""
        if self._started:
            return
        if self._setup is not None:
            self._state = await _run_hook(self._setup, dict(self._options), self._base_dir)
        self._started = True

    async def close(self) -> None:
        """Call the module's ``teardown(state)``, if any, and forget the state."""
        if not self._started:
            return
        state, self._state, self._started = self._state, None, False
        if self._teardown is not None:
            await _run_hook(self._teardown, state)

    def state(self) -> Any:
        """The state ``setup`` returned. Raises RuntimeError before :meth:`start`."""
        if not self._started:
            raise RuntimeError(f"python backend '{self.name}' used before start()")
        return self._state

    def invoker(self, function: str, *, lookup: bool = False) -> PythonInvoker:
        """Bind one of the module's functions. Raises ``backend.unknown_function``."""
        fn = _find_function(self.module, function)
        state = self.state if self._setup is not None else None
        return PythonInvoker(fn, label=f"{self.name}.{function}", state=state, lookup=lookup)


def resolve_function(spec: str, *, base_dir: str | None = None, lookup: bool = False) -> PythonInvoker:
    """Bind a direct ``"module:function"`` reference, called as ``fn(call)`` (no setup, no state)."""
    module_name, sep, function = spec.partition(":")
    if not sep or not module_name or not function:
        raise BackendResolutionError(
            "backend.unknown_function",
            f"function '{spec}' is not of the form 'module:function'",
            "write e.g. 'my_tools:list_items'",
        )
    fn = _find_function(import_backend_module(module_name, base_dir), function)
    return PythonInvoker(fn, label=spec, state=None, lookup=lookup)
