"""``opp audit export``: stored events as JSONL (verbatim) or OCSF API Activity lines, by time window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import msgspec

from opp.audit.ocsf import to_ocsf
from opp.audit.verify import StoredEvent

__all__ = ["ExportFormat", "export_lines"]

ExportFormat = Literal["jsonl", "ocsf"]
_encoder = msgspec.json.Encoder()


def _product_version() -> str:
    try:
        return version("opp")
    except PackageNotFoundError:
        return ""


def _in_window(event: dict[str, Any], since: dt.datetime | None, until: dt.datetime | None) -> bool:
    created = dt.datetime.fromisoformat(str(event["created_at"]))
    return (since is None or created >= since) and (until is None or created < until)


def export_lines(
    events: Iterable[StoredEvent],
    output_format: ExportFormat,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Iterator[str]:
    """One line (without newline) per event with ``since <= created_at < until``, oldest first.

    ``jsonl`` lines are the stored JSON, chain fields included: an unfiltered export verifies with
    ``opp audit verify --jsonl``. ``ocsf`` lines follow :func:`opp.audit.ocsf.to_ocsf`.
    """
    product_version = _product_version()
    for stored in events:
        event = msgspec.json.decode(stored.body)
        if not _in_window(event, since, until):
            continue
        if output_format == "jsonl":
            yield stored.body
        else:
            yield _encoder.encode(to_ocsf(event, product_version)).decode()
