"""Impact and State Witness computation: declarative templates and fields, and backend calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.tools.api import CallContext, ToolCall
from opp.writes.impact import BackendImpact, DeclarativeImpact, FieldRef, SummaryTemplate, parse_reference
from opp.writes.witness import BackendWitness, DeclarativeWitness

NOW = dt.datetime(2025, 3, 15, 12, 0, tzinfo=dt.UTC)
CALL = ToolCall(
    operation="transaction.delete",
    args={"transactionId": "txn_1"},
    context=CallContext(
        request_id="req_1",
        app_id="app_demo",
        key_id="key_1",
        actor_user_id="svc_org_demo",
        tenant="org_demo",
        app_policy={},
        now=NOW,
        idempotency_key="idem-1",
    ),
)
RESOURCE = {"id": "txn_1", "kind": "income", "amount": 1200, "currency": "USD", "notes": None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("args.amount", FieldRef("args", "amount")),
        (" resource.ledgerId ", FieldRef("resource", "ledgerId")),
        ("amount", None),
        ("args.a.b", None),
        ("request.ip", None),
        ("args.", None),
    ],
)
def test_parse_reference(text: str, expected: FieldRef | None) -> None:
    assert parse_reference(text) == expected


def test_summary_template_renders_strings_as_is_and_other_values_as_json() -> None:
    template, placeholders = SummaryTemplate.parse(
        "{{{args.transactionId}}}: {resource.kind} of {resource.amount} {resource.currency},"
        " notes {resource.notes}"
    )
    assert [(p.offset, p.text) for p in placeholders] == [
        (2, "args.transactionId"),
        (26, "resource.kind"),
        (45, "resource.amount"),
        (63, "resource.currency"),
        (90, "resource.notes"),
    ]
    assert all(p.reference is not None for p in placeholders)
    assert template.render(CALL.args, RESOURCE) == "{txn_1}: income of 1200 USD, notes null"


def test_summary_template_reports_placeholders_that_are_not_references() -> None:
    template, placeholders = SummaryTemplate.parse("Delete {ledger} and {} of {args.x}")
    assert [(p.offset, p.text, p.reference) for p in placeholders] == [
        (7, "ledger", None),
        (20, "", None),
        (26, "args.x", FieldRef("args", "x")),
    ]
    assert template.references == (FieldRef("args", "x"),)


async def test_declarative_impact_draws_fields_from_args_and_resource() -> None:
    template, _ = SummaryTemplate.parse("Delete {args.transactionId} ({resource.amount} {resource.currency})")
    impact = DeclarativeImpact(
        summary=template,
        fields=(
            ("transactionId", FieldRef("args", "transactionId")),
            ("amount", FieldRef("resource", "amount")),
            ("missing", FieldRef("args", "absent")),
            ("summary", FieldRef("resource", "kind")),
        ),
    )
    assert await impact.compute(CALL.args, RESOURCE, CALL) == {
        "transactionId": "txn_1",
        "amount": 1200,
        "missing": None,
        "summary": "Delete txn_1 (1200 USD)",
    }


async def test_declarative_impact_without_a_resource_reads_null() -> None:
    impact = DeclarativeImpact(summary=None, fields=(("amount", FieldRef("resource", "amount")),))
    assert await impact.compute(CALL.args, None, CALL) == {"amount": None}


async def test_backend_impact_calls_the_backend_with_the_tool_and_context() -> None:
    seen: list[ToolCall] = []

    async def preview(call: ToolCall) -> Any:
        seen.append(call)
        return {"summary": "Export 3 rows", "rows": 3, "at": NOW}

    impact = BackendImpact("transactions.export_csv", preview)
    result = await impact.compute({"ledgerId": "ledger_main"}, None, CALL)

    assert result == {"summary": "Export 3 rows", "rows": 3, "at": "2025-03-15T12:00:00Z"}
    assert seen[0].operation == "transactions.export_csv"
    assert seen[0].args == {"ledgerId": "ledger_main"}
    assert seen[0].context is CALL.context


@pytest.mark.parametrize("answer", [None, [1, 2], "text"])
async def test_backend_impact_must_return_an_object(answer: Any) -> None:
    async def preview(call: ToolCall) -> Any:
        return answer

    with pytest.raises(OppError) as caught:
        await BackendImpact("transaction.delete", preview).compute(CALL.args, None, CALL)
    assert caught.value.code is ReasonCode.EXECUTION_FAILED
    assert caught.value.message == "The impact could not be computed."


async def test_backend_impact_passes_application_refusals_through() -> None:
    async def preview(call: ToolCall) -> Any:
        raise OppError(ReasonCode.ACTION_INVALID, "Too many rows.")

    with pytest.raises(OppError) as caught:
        await BackendImpact("transactions.export_csv", preview).compute({}, None, CALL)
    assert (caught.value.code, caught.value.message) == (ReasonCode.ACTION_INVALID, "Too many rows.")


async def test_declarative_witness_selects_fields_of_the_resource() -> None:
    witness = DeclarativeWitness("transaction", "transactionId", ("amount", "kind", "deletedAt"))
    assert await witness.compute(CALL.args, {**RESOURCE, "updatedAt": dt.date(2025, 3, 1)}, CALL) == {
        "resource": "transaction",
        "id": "txn_1",
        "fields": {"amount": 1200, "kind": "income", "deletedAt": None},
    }
    assert await witness.compute(CALL.args, None, CALL) is None


async def test_declarative_witness_changes_with_the_resource() -> None:
    witness = DeclarativeWitness("transaction", "transactionId", ("amount",))
    before = await witness.compute(CALL.args, RESOURCE, CALL)
    after = await witness.compute(CALL.args, {**RESOURCE, "amount": 1300}, CALL)
    unrelated = await witness.compute(CALL.args, {**RESOURCE, "notes": "edited"}, CALL)
    assert before != after
    assert before == unrelated


async def test_backend_witness_returns_the_object_or_none() -> None:
    answers: list[Any] = [{"version": dt.datetime(2025, 3, 15, tzinfo=dt.UTC)}, None, [1]]

    async def state(call: ToolCall) -> Any:
        return answers.pop(0)

    witness = BackendWitness("transaction.update", state)
    assert await witness.compute(CALL.args, None, CALL) == {"version": "2025-03-15T00:00:00Z"}
    assert await witness.compute(CALL.args, None, CALL) is None
    with pytest.raises(OppError) as caught:
        await witness.compute(CALL.args, None, CALL)
    assert caught.value.code is ReasonCode.EXECUTION_FAILED
