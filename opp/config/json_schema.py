"""The published JSON Schema of ``gateway.yaml`` (``schema/gateway.schema.json``).

Generated from :class:`~opp.config.schema.GatewayConfig` by msgspec, so the schema editors use and
the schema the loader validates against are the same document.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import msgspec

from opp.config.schema import GatewayConfig

__all__ = ["DRAFT_2020_12", "gateway_json_schema", "render_gateway_schema"]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


@functools.cache
def _schema_text() -> str:
    schema: dict[str, Any] = {
        "$schema": DRAFT_2020_12,
        "title": "opp gateway.yaml",
        **msgspec.json.schema(GatewayConfig),
    }
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_gateway_schema() -> str:
    """The schema as committed: pretty-printed, sorted keys, trailing newline."""
    return _schema_text()


def gateway_json_schema() -> dict[str, Any]:
    """A fresh copy of the schema as a dict (draft 2020-12, with ``$schema`` and ``title``)."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema
