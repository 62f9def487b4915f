"""The published JSON Schema of ``gateway.yaml`` (``schema/gateway.schema.json``).

Generated from :class:`~opp.config.schema.GatewayConfig` by msgspec, so the schema editors use and
the schema the loader validates against are the same document. Every ``description`` is normalised
by opp itself (:func:`inspect.cleandoc`), so the committed file does not change when a msgspec
release strips docstring indentation differently (0.22 kept it, 0.23 removes it).
"""

from __future__ import annotations

import functools
import inspect
import json
from typing import Any

import msgspec

from opp.config.schema import GatewayConfig

__all__ = ["DRAFT_2020_12", "gateway_json_schema", "normalise_descriptions", "render_gateway_schema"]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def normalise_descriptions(node: Any) -> Any:
    """``node`` with every ``description`` string passed through :func:`inspect.cleandoc`.

    Docstring-derived text then has one shape (no common indentation, no leading or trailing blank
    lines) whatever the schema generator did with it.
    """
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value)
            if key == "description" and isinstance(value, str)
            else normalise_descriptions(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [normalise_descriptions(item) for item in node]
    return node


@functools.cache
def _schema_text() -> str:
    schema: dict[str, Any] = {
        "$schema": DRAFT_2020_12,
        "title": "opp gateway.yaml",
        **normalise_descriptions(msgspec.json.schema(GatewayConfig)),
    }
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_gateway_schema() -> str:
    """The schema as committed: pretty-printed, sorted keys, trailing newline."""
    return _schema_text()


def gateway_json_schema() -> dict[str, Any]:
    """A fresh copy of the schema as a dict (draft 2020-12, with ``$schema`` and ``title``)."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema
