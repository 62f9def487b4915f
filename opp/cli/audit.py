"""``opp audit verify|export|archive``: check, export and archive the hash-chained audit log.

Each reads the store configured in a ``gateway.yaml`` (``FILE``, default ``./gateway.yaml``), SQLite
or PostgreSQL::

    opp audit verify [FILE] [--jsonl PATH] [--anchor SEQ:HASH] [--checkpoint SEQ:HASH]
    opp audit export [FILE] --format jsonl|ocsf [--since T] [--until T] [--output PATH]
    opp audit archive [FILE] --through SEQ --output PATH

``verify`` prints the first broken position (``seq`` and event id) and exits 1, or the verified
head and exits 0. ``archive`` writes the events up to ``--through`` to a JSONL file, then deletes
them and records their last event as the anchor later verifications start from (docs/AUDIT.md).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from opp.audit.chain import ChainHead
from opp.audit.export import export_lines
from opp.audit.sources import jsonl_events, postgres_events, sqlite_events
from opp.audit.verify import StoredEvent, VerifyReport, verify_chain
from opp.cli.common import load_plan_or_report
from opp.clock import SystemClock
from opp.compile.plan import Plan
from opp.parsing import ascii_int, time_or_none
from opp.store.factory import open_configured_store
from opp.store.protocols import Store
from opp.store.sqlite.audit import SqliteAuditLog

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Verify, export or archive the hash-chained audit log."


def _head(text: str) -> ChainHead:
    seq, _, digest = text.partition(":")
    number = ascii_int(seq)
    if number is None or number < 0 or len(digest) != 64:
        raise argparse.ArgumentTypeError("expected SEQ:HASH (a number, a colon, 64 hex digits)")
    return ChainHead(number, digest.lower())


def _time(text: str) -> dt.datetime:
    parsed = time_or_none(text)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time (years 0001-9999 in UTC): {text!r}")
    return parsed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``verify``, ``export`` and ``archive`` subcommands."""
    commands = parser.add_subparsers(dest="audit_command", required=True)
    verify = commands.add_parser("verify", help="verify the hash chain; exit 1 at the first break")
    export = commands.add_parser("export", help="export events as JSONL or OCSF API Activity lines")
    archive = commands.add_parser("archive", help="move a verified prefix of the chain to a JSONL file")
    for command in (verify, export, archive):
        command.add_argument(
            "file", nargs="?", default="gateway.yaml", help="the config (default: ./gateway.yaml)"
        )
    verify.add_argument(
        "--jsonl", help="verify this JSONL file (export, archive or sink) instead of the store"
    )
    verify.add_argument("--anchor", type=_head, help="SEQ:HASH the first event follows (a JSONL file)")
    verify.add_argument("--checkpoint", type=_head, help="SEQ:HASH recorded earlier that must still be there")
    export.add_argument("--format", choices=("jsonl", "ocsf"), default="jsonl", help="line format")
    export.add_argument("--since", type=_time, help="inclusive lower bound on created_at (ISO-8601)")
    export.add_argument("--until", type=_time, help="exclusive upper bound on created_at (ISO-8601)")
    export.add_argument("--output", default="-", help="output file (default: stdout)")
    archive.add_argument("--through", type=int, required=True, help="archive the events with seq <= this")
    archive.add_argument("--output", required=True, help="the JSONL archive to write (must not exist)")


def run(args: argparse.Namespace) -> int:
    """Run the chosen subcommand; 0 on success, 1 on a broken chain or an error."""
    if args.audit_command == "verify" and args.jsonl:
        return _print_report(verify_chain(jsonl_events(args.jsonl), args.anchor, args.checkpoint))
    plan = load_plan_or_report(args.file)
    if plan is None:
        return 1
    if plan.config.store.kind == "memory":
        print(f"{args.file}: store.kind is 'memory'; nothing durable to read", file=sys.stderr)
        return 1
    if plan.config.store.kind == "sqlite" and not Path(plan.store_path).exists():
        print(f"no audit database at {plan.store_path}", file=sys.stderr)
        return 1
    return asyncio.run(_with_store(plan, args))


class _Chain(NamedTuple):
    """The stored chain of one backend: its events (in insertion order), anchor and archiving."""

    events: Callable[[], Awaitable[Iterable[StoredEvent]]]
    anchor: ChainHead | None
    archive_through: Callable[[int, dt.datetime, str], Awaitable[ChainHead]]


async def _chain(store: Store) -> _Chain:
    from opp.store.postgres import PostgresStore  # noqa: PLC0415  (psycopg only when configured)

    if isinstance(store, PostgresStore):
        log = store.audit_log

        async def read_all() -> Iterable[StoredEvent]:
            return [stored async for stored in postgres_events(log)]

        return _Chain(read_all, await log.anchor(), log.archive_through)
    sqlite_log = store.audit
    assert isinstance(sqlite_log, SqliteAuditLog), "the CLI reads SQLite or PostgreSQL stores"

    async def read_lazily() -> Iterable[StoredEvent]:
        return sqlite_events(sqlite_log)

    return _Chain(read_lazily, sqlite_log.anchor(), sqlite_log.archive_through)


async def _with_store(plan: Plan, args: argparse.Namespace) -> int:
    store = open_configured_store(plan.store)
    await store.open()
    try:
        chain = await _chain(store)
        if args.audit_command == "verify":
            return _print_report(verify_chain(await chain.events(), chain.anchor, args.checkpoint))
        if args.audit_command == "export":
            lines = export_lines(await chain.events(), args.format, args.since, args.until)
            _write_lines(args.output, lines)
            return 0
        return await _archive(chain, args.through, Path(args.output))
    finally:
        await store.close()


def _write_lines(output: str, lines: Iterator[str]) -> None:
    if output == "-":
        for line in lines:
            sys.stdout.write(line + "\n")
        return
    with open(output, "x", encoding="utf-8") as file:
        for line in lines:
            file.write(line + "\n")


def _prefix(events: Iterable[StoredEvent], through: int) -> Iterator[StoredEvent]:
    for stored in events:
        if (
            stored.columns is not None
            and stored.columns["seq"] is not None
            and stored.columns["seq"] > through
        ):
            return
        yield stored


async def _archive(chain: _Chain, through: int, output: Path) -> int:
    report = verify_chain(await chain.events(), chain.anchor)
    if not report.ok or report.head.seq < through or through <= report.start.seq:
        _print_report(report)
        print(f"refusing to archive through seq {through}: the chain must verify up to it", file=sys.stderr)
        return 1
    _write_lines(str(output), (stored.body for stored in _prefix(await chain.events(), through)))
    anchor = await chain.archive_through(through, SystemClock().now(), f"archived to {output.name}")
    print(f"archived seq {report.start.seq + 1}..{through} to {output}; anchor {anchor.seq}:{anchor.hash}")
    return 0


def _print_report(report: VerifyReport) -> int:
    if report.broken is not None:
        broken = report.broken
        print(f"audit chain BROKEN at seq {broken.seq} (event {broken.event_id or '-'}): {broken.reason}")
        print(f"{report.verified} events verified before it, from seq {report.start.seq + 1}")
        return 1
    first = report.start.seq + 1
    print(f"audit chain intact: {report.verified} events, seq {first}..{report.head.seq}")
    print(f"head {report.head.seq}:{report.head.hash}")
    if report.unchained:
        print(f"{report.unchained} older events predate the chain (not verifiable)")
    return 0
