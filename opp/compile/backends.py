"""Backends: build one runtime per ``backends`` entry, resolve each reference to an invoker.

Resolution errors become diagnostics placed on the field they are about (the module, the
``call``, the ``backend`` name…). A reference to a backend that itself failed to build is not
reported again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from opp.compile.report import Reporter
from opp.config.schema import Backend, BackendRef
from opp.config.source_map import JsonPath
from opp.tools.api import BackendRuntime, Invoker
from opp.tools.registry import BackendResolutionError, build_runtime, resolve_invoker

__all__ = ["Backends", "build_backends"]

_RUNTIME_FIELDS = {
    "backend.unknown_module": "module",
    "backend.env_missing": "headers",
    "backend.invalid_url": "base_url",
}
_REF_FIELDS = {"backend.unknown": "backend", "backend.path_required": "backend"}


@dataclass(slots=True)
class Backends:
    """The runtimes that were built, and the names of entries that failed."""

    base_dir: str
    runtimes: dict[str, BackendRuntime] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)

    def resolve(
        self, ref: BackendRef, path: JsonPath, report: Reporter, *, lookup: bool = False
    ) -> Invoker | None:
        """The invoker for ``ref`` (written at ``path``), or None after reporting why not."""
        if ref.backend is not None and ref.backend in self.failed:
            return None
        try:
            return resolve_invoker(ref, self.runtimes, lookup=lookup, base_dir=self.base_dir)
        except BackendResolutionError as exc:
            report.error(_ref_field(ref, path, exc.code, report), exc.code, exc.message, exc.hint)
            return None


def build_backends(
    backends: Mapping[str, Backend], *, base_dir: str, environ: Mapping[str, str], report: Reporter
) -> Backends:
    """Build every runtime once (nothing is started; ``opp check`` acquires nothing)."""
    built = Backends(base_dir=base_dir)
    for name, backend in backends.items():
        try:
            built.runtimes[name] = build_runtime(name, backend, base_dir=base_dir, environ=environ)
        except BackendResolutionError as exc:
            built.failed.add(name)
            entry: JsonPath = ("backends", name)
            field_name = _RUNTIME_FIELDS.get(exc.code)
            target = (
                (*entry, field_name) if field_name and report.source_map.has((*entry, field_name)) else entry
            )
            report.error(target, exc.code, exc.message, exc.hint, at_key=target == entry)
    return built


def _ref_field(ref: BackendRef, path: JsonPath, code: str, report: Reporter) -> JsonPath:
    """The most specific written field of the reference that the error is about."""
    if code == "backend.unknown_function":
        name = "function" if ref.function is not None else "call"
    elif code == "backend.unknown_module" and ref.function is not None:
        name = "function"
    else:
        name = _REF_FIELDS.get(code, "")
    target = (*path, name)
    return target if name and report.source_map.has(target) else path
