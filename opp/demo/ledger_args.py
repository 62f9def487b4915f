"""Reading the ledger demo's tool arguments and app policy defensively.

The gateway has validated the input against the tool's ``input_schema`` before a demo function
runs; the application still refuses what it cannot store (``agent.action_invalid``), as a real
application behind any gateway would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.tools.api import ToolCall

__all__ = ["DEFAULT_MAX_DAYS", "date_arg", "invalid", "policy_int", "transaction_values"]

DEFAULT_MAX_DAYS = 30
"""Window of an open-ended transaction query when the app's policy has no ``max_days``."""
KINDS = frozenset({"income", "expense"})
MAX_TITLE = 200


def invalid(message: str) -> OppError:
    """The application's refusal of an input."""
    return OppError(ReasonCode.ACTION_INVALID, message)


def date_arg(args: Mapping[str, Any], name: str) -> dt.date | None:
    """The ``YYYY-MM-DD`` argument ``name`` (None when absent)."""
    value = args.get(name)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise invalid(f"{name} must be a date (YYYY-MM-DD).") from None


def policy_int(call: ToolCall, name: str, default: int) -> int:
    """An integer attribute of the calling app's data policy, or ``default``."""
    value = call.context.app_policy.get(name)
    return default if value is None else int(value)


def transaction_values(args: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """The transaction fields among ``names`` present in ``args``, checked and normalised.

    ``kind`` is income or expense; ``amount`` a number above zero; ``title`` 1 to 200 characters;
    ``notes`` a string or null; ``occurredOn`` a date (stored as ``YYYY-MM-DD``).
    """
    values = {name: args[name] for name in names if name in args}
    if "kind" in values and values["kind"] not in KINDS:
        raise invalid("kind must be income or expense.")
    if "amount" in values and not _positive_number(values["amount"]):
        raise invalid("amount must be a number above zero.")
    if "title" in values and not (
        isinstance(values["title"], str) and 1 <= len(values["title"]) <= MAX_TITLE
    ):
        raise invalid(f"title must be 1 to {MAX_TITLE} characters.")
    if values.get("notes") is not None and not isinstance(values["notes"], str):
        raise invalid("notes must be a string or null.")
    if "occurredOn" in values:
        occurred = date_arg(values, "occurredOn")
        values["occurredOn"] = occurred.isoformat() if occurred is not None else None
        if occurred is None:
            raise invalid("occurredOn must be a date (YYYY-MM-DD).")
    return values


def _positive_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value > 0
