"""Hypothesis strategies for requests, driven by the gateway's OpenAPI document.

Each request targets one documented operation and mixes valid and invalid parts: parameters and
bodies drawn from their documented schemas (``schema_values``) or arbitrary, real ids or
made-up ones, the right credential, another plane's, a malformed one or none, and now and then
the wrong method, a broken JSON body or a wrong content type.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from .operations import Operation, Parameter
from .schema_values import values_for

__all__ = ["CREDENTIAL_MODES", "FuzzRequest", "Pools", "requests"]

CREDENTIAL_MODES = ("none", "malformed", "unknown", "agent", "admin", "auditor")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_HEADER_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_.:/=,;", max_size=40)


@dataclass(frozen=True)
class Pools:
    """Real values the fuzzer mixes in: ids that exist, and the credentials of each mode."""

    ids: Mapping[str, Sequence[str]]
    credentials: Mapping[str, str]


@dataclass(frozen=True, repr=False)
class FuzzRequest:
    operation: Operation
    method: str
    url: str
    headers: list[tuple[str, str]]
    content: bytes | None
    credential: str

    def __repr__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        body = (self.content or b"")[:200]
        return f"{self.method} {self.url} [{self.credential}] headers={self.headers} body={body!r}"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_broken_bodies = st.sampled_from(
    [b"{", b'{"action":', b"[1,", b"\xff\xfe\x00", b"nul", b'{"a":1}{}']
) | st.binary(max_size=48)


def _query_strings(value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [s for item in value for s in _query_strings(item)]
    if value is None:
        return [""]
    if isinstance(value, dict):
        return [json.dumps(value)]
    return [str(value)]


@st.composite
def _parameter_value(draw: st.DrawFn, parameter: Parameter, pools: Pools) -> list[str]:
    choices = [
        values_for(parameter.schema, known=pools.ids).map(_query_strings),
        st.text(max_size=16).map(lambda s: [s]),
    ]
    known = pools.ids.get(parameter.name)
    if known:
        choices.insert(0, st.sampled_from(list(known)).map(lambda s: [s]))
    return draw(st.one_of(choices))


@st.composite
def _path(draw: st.DrawFn, operation: Operation, pools: Pools) -> str:
    path = operation.path
    for parameter in operation.in_("path"):
        value = draw(_parameter_value(parameter, pools))[0] or "x"
        path = path.replace("{" + parameter.name + "}", quote(value, safe=""))
    return path


@st.composite
def _query(draw: st.DrawFn, operation: Operation, pools: Pools) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for parameter in operation.in_("query"):
        include = draw(st.integers(0, 9)) < (9 if parameter.required else 5)
        if include:
            pairs += [(parameter.name, v) for v in draw(_parameter_value(parameter, pools))]
    if draw(st.integers(0, 19)) == 0:  # an undocumented parameter, or a token in the URL
        name = draw(st.sampled_from(["access_token", "unknown", "limit", "page"]))
        pairs.append((name, draw(st.text(max_size=8))))
    return pairs


@st.composite
def _credential(draw: st.DrawFn, mode: str, pools: Pools) -> list[tuple[str, str]]:
    if mode == "none":
        return []
    if mode == "malformed":
        value = draw(
            st.sampled_from(["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer op_short", "bearer  op_x y"])
            | _HEADER_TEXT
        )
        return [("authorization", value)]
    if mode == "unknown":
        prefix = draw(st.sampled_from(["op", "opa"]))
        body = draw(st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=43, max_size=43))
        return [("authorization", f"Bearer {prefix}_{body}")]
    headers = [("authorization", f"Bearer {pools.credentials[mode]}")]
    if draw(st.integers(0, 29)) == 0:  # a second Authorization header is refused
        headers.append(("authorization", f"Bearer {pools.credentials[mode]}"))
    return headers


@st.composite
def _body(draw: st.DrawFn, operation: Operation, pools: Pools) -> tuple[bytes | None, str | None]:
    kind = draw(st.integers(0, 9))
    content_type: str | None = "application/json"
    if draw(st.integers(0, 14)) == 0:
        content_type = draw(st.sampled_from([None, "text/plain", "application/x-www-form-urlencoded"]))
    if operation.body_schema is not None and kind < 6:
        value = draw(values_for(operation.body_schema, known=pools.ids))
        return json.dumps(value).encode(), content_type
    if kind < 8:
        return (
            json.dumps(draw(_json_values)).encode() if kind < 7 or operation.body_schema else None
        ), content_type
    if kind == 8:
        return draw(_broken_bodies), content_type
    return None, None


@st.composite
def requests(
    draw: st.DrawFn, operations: Sequence[Operation], pools: Pools, modes: Sequence[str]
) -> FuzzRequest:
    """One request against one of ``operations`` with a credential of one of ``modes``."""
    operation = draw(st.sampled_from(list(operations)))
    mode = draw(st.sampled_from(list(modes)))
    method = operation.method
    if draw(st.integers(0, 19)) == 0:
        method = draw(st.sampled_from([m for m in _METHODS if m != operation.method]))
    path = draw(_path(operation, pools))
    query = draw(_query(operation, pools))
    headers = draw(_credential(mode, pools))
    for parameter in operation.in_("header"):
        if draw(st.booleans()):
            headers.append((parameter.name.lower(), draw(_HEADER_TEXT)))
    if draw(st.integers(0, 9)) == 0:
        headers.append(("x-forwarded-for", draw(_HEADER_TEXT)))
    if draw(st.integers(0, 9)) == 0:
        headers.append(("x-request-id", draw(_HEADER_TEXT)))
    content, content_type = draw(_body(operation, pools))
    if content_type is not None and content is not None:
        headers.append(("content-type", content_type))
    url = path + ("?" + urlencode(query) if query else "")
    return FuzzRequest(operation, method, url, headers, content, mode)
