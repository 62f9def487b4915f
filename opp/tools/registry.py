"""From config to callables: build backend runtimes and resolve tool references to invokers.

The compiler calls :func:`build_runtime` for each entry of ``backends`` and :func:`resolve_invoker`
for each tool's (and resource lookup's) ``backend`` reference; :class:`BackendResolutionError`
becomes a positioned diagnostic. Python modules are imported here, so ``opp check`` reports a bad
module or function, but nothing is acquired (connections, files) until the server calls
``start()`` on the runtimes.
"""

from __future__ import annotations

from collections.abc import Mapping

from opp.config.diagnostics import did_you_mean
from opp.config.schema import Backend, BackendRef, HttpBackend, McpBackend
from opp.tools.api import BackendRuntime, Invoker
from opp.tools.errors import BackendResolutionError
from opp.tools.http_backend import HttpBackendRuntime
from opp.tools.mcp_backend import McpBackendRuntime
from opp.tools.python_backend import PythonModuleRuntime, resolve_function

__all__ = ["BackendResolutionError", "build_runtime", "resolve_invoker"]


def build_runtime(
    name: str, backend: Backend, *, base_dir: str, environ: Mapping[str, str]
) -> BackendRuntime:
    """Build the runtime of one ``backends`` entry without acquiring anything.

    Args:
        name: The entry's key in ``backends``.
        backend: Its config.
        base_dir: The directory of ``gateway.yaml`` (Python modules beside it import by name;
            relative paths in options resolve against it).
        environ: Where ``${VAR}`` in HTTP headers is looked up (usually ``os.environ``).

    Raises:
        BackendResolutionError: ``backend.unknown_module``, ``backend.env_missing`` or
            ``backend.invalid_url``.
    """
    if isinstance(backend, HttpBackend):
        return HttpBackendRuntime.build(name, backend, environ=environ)
    if isinstance(backend, McpBackend):
        return McpBackendRuntime.build(name, backend, environ=environ)
    return PythonModuleRuntime.load(name, backend, base_dir=base_dir)


def resolve_invoker(
    ref: BackendRef,
    runtimes: Mapping[str, BackendRuntime],
    *,
    lookup: bool = False,
    base_dir: str | None = None,
) -> Invoker:
    """Resolve a tool's (or resource lookup's) backend reference to its invoker.

    Args:
        ref: ``{backend, call}`` (Python), ``{backend, method, path}`` (HTTP) or
            ``{function: "module:function"}`` (a direct callable, imported here).
        runtimes: The runtimes :func:`build_runtime` built, by backend name.
        lookup: A resource lookup: the invoker returns None when the resource does not exist.
        base_dir: Added to the import path for ``function`` references (as for Python backends).

    Raises:
        BackendResolutionError: ``backend.missing``, ``backend.unknown``, ``backend.kind_mismatch``,
            ``backend.path_required``, ``backend.unknown_module`` or ``backend.unknown_function``.
    """
    if ref.function is not None:
        if ref.backend is not None or ref.call is not None or ref.path is not None:
            raise BackendResolutionError(
                "backend.kind_mismatch",
                "'function' cannot be combined with 'backend', 'call' or 'path'",
                "use either {function: 'module:function'} or {backend: NAME, ...}",
            )
        return resolve_function(ref.function, base_dir=base_dir, lookup=lookup)
    if ref.backend is None:
        raise BackendResolutionError(
            "backend.missing",
            "the reference names neither a backend nor a function",
            "add {backend: NAME, call: FUNCTION} or {function: 'module:function'}",
        )
    runtime = runtimes.get(ref.backend)
    if runtime is None:
        raise BackendResolutionError(
            "backend.unknown", f"backend '{ref.backend}' is not declared", did_you_mean(ref.backend, runtimes)
        )
    if isinstance(runtime, HttpBackendRuntime):
        return _resolve_http(ref, runtime, lookup=lookup)
    if isinstance(runtime, PythonModuleRuntime):
        return _resolve_python(ref, runtime, lookup=lookup)
    if isinstance(runtime, McpBackendRuntime):
        return _resolve_mcp(ref, runtime, lookup=lookup)
    raise TypeError(f"unsupported runtime for backend '{ref.backend}': {type(runtime).__name__}")


def _resolve_http(ref: BackendRef, runtime: HttpBackendRuntime, *, lookup: bool) -> Invoker:
    if ref.call is not None:
        raise BackendResolutionError(
            "backend.kind_mismatch",
            f"backend '{runtime.name}' is an http backend; 'call' applies to python backends",
            "use method and path, e.g. {method: GET, path: /items/{id}}",
        )
    if ref.path is None:
        raise BackendResolutionError(
            "backend.path_required",
            f"a reference to http backend '{runtime.name}' needs a path",
            "add path, e.g. path: /items/{id}",
        )
    return runtime.invoker(ref.method, ref.path, lookup=lookup)


def _resolve_python(ref: BackendRef, runtime: PythonModuleRuntime, *, lookup: bool) -> Invoker:
    if ref.path is not None:
        raise BackendResolutionError(
            "backend.kind_mismatch",
            f"backend '{runtime.name}' is a python backend; 'path' applies to http backends",
            "use call: FUNCTION",
        )
    if ref.call is None:
        raise BackendResolutionError(
            "backend.missing",
            f"a reference to python backend '{runtime.name}' needs 'call' (the function to run)",
            "add call: FUNCTION",
        )
    return runtime.invoker(ref.call, lookup=lookup)


def _resolve_mcp(ref: BackendRef, runtime: McpBackendRuntime, *, lookup: bool) -> Invoker:
    if ref.path is not None or ref.call is None:
        raise BackendResolutionError(
            "backend.missing",
            f"a reference to mcp backend '{runtime.name}' needs 'call' (the upstream tool's name)",
            "use call: UPSTREAM_TOOL (opp import mcp lists them)",
        )
    return runtime.invoker(ref.call, lookup=lookup)
