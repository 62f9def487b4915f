"""The State Witness (SPEC §7.6): a snapshot of the state an action was approved against.

Captured when a draft is created and recomputed before every execution; when the two differ the
execution fails closed (``409 agent.precondition_failed``) without calling the backend. Both
implementations satisfy :class:`opp.compile.plan.WitnessPlan` and return None when the resource no
longer exists, which matches no captured witness:

- :class:`DeclarativeWitness`: ``{"resource": <type>, "id": <id>, "fields": {…selected…}}`` from the
  resource the caller fetched (the engine passes a freshly fetched one at execution time);
- :class:`BackendWitness`: a backend call (``ToolCall(operation=<tool>, args, context)``) returning
  the witness object, or nothing when the resource is gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opp.tools.api import Invoker, ToolCall
from opp.writes.impact import call_backend_for_object
from opp.writes.jcs import json_value

__all__ = ["BackendWitness", "DeclarativeWitness"]


@dataclass(frozen=True, slots=True)
class DeclarativeWitness:
    """``witness: {fields}``: selected fields of the tool's resource."""

    resource_type: str
    id_arg: str
    fields: tuple[str, ...]

    async def compute(
        self, args: Mapping[str, Any], resource: Mapping[str, Any] | None, call: ToolCall
    ) -> dict[str, Any] | None:
        """The witness of ``resource`` (None when it does not exist); absent fields are null."""
        if resource is None:
            return None
        return {
            "resource": self.resource_type,
            "id": json_value(args.get(self.id_arg)),
            "fields": {name: json_value(resource.get(name)) for name in self.fields},
        }


@dataclass(frozen=True, slots=True)
class BackendWitness:
    """``witness: {backend}``: the backend reports the state the action depends on."""

    tool: str
    invoker: Invoker

    async def compute(
        self, args: Mapping[str, Any], resource: Mapping[str, Any] | None, call: ToolCall
    ) -> dict[str, Any] | None:
        """The backend's witness object, or None when it returned nothing (the state is gone).

        Raises:
            OppError: ``agent.execution_failed`` when the backend returns something else.
        """
        return await call_backend_for_object(self.tool, self.invoker, args, call, what="witness")
