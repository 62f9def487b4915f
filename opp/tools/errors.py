"""Errors raised while resolving backends from config (``opp check`` reports them with positions)."""

from __future__ import annotations

__all__ = ["BackendResolutionError"]


class BackendResolutionError(Exception):
    """A backend or backend reference in ``gateway.yaml`` cannot be resolved.

    The compiler turns it into a positioned diagnostic. ``message`` never contains a traceback.

    Codes:
        ``backend.unknown``: the reference names a backend that ``backends`` does not declare.
        ``backend.unknown_module``: a Python module cannot be imported.
        ``backend.unknown_function``: the module has no such public callable.
        ``backend.missing``: the reference names neither a backend (with its entry point) nor a function.
        ``backend.kind_mismatch``: fields of the wrong backend kind (``call`` on HTTP, ``path`` on Python,
            both ``backend`` and ``function``).
        ``backend.path_required``: an HTTP reference without ``path``.
        ``backend.env_missing``: a header uses ``${VAR}`` and ``VAR`` is not set.

    Attributes:
        code: The stable dotted code above.
        message: What is wrong, naming the offending module, function, backend or variable.
        hint: A suggestion (``did you mean 'x'?``), or None.
    """

    def __init__(self, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.hint = hint
