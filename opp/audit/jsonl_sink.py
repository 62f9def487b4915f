"""The append-only JSONL sink (``audit.jsonl_path``): a replica of the hash chain in a plain file.

Each line is one committed event exactly as the store holds it (``seq``, ``prev_hash`` and ``hash``
included), so ``opp audit verify --jsonl FILE`` verifies the file on its own, on another machine.

How it stays exact with several workers: the file is not fed from each worker's queue but *tails
the chain*. After each batch commit, :meth:`JsonlSink.sync` takes an exclusive ``flock`` on the
file (non-blocking — if another worker holds it, that worker is already catching up and this one
skips the round), reads the ``seq`` of the last complete line, and appends every committed event
after it, in ``seq`` order, then ``fsync``s. Events committed with a state change (the write
path) are picked up by the next sync as well. Guarantees:

- every line is an event that was committed to the store before the line was written;
- lines are in ``seq`` order without duplicates or gaps, from the first line on;
- the file lags the store by at most one flush interval while a gateway runs (a failing sink is
  logged and retried on the next flush; it never blocks or loses store commits);
- a torn last line (a crash mid-write) is cut off and rewritten by the next sync.

The file is only appended to; rotating it is the operator's job (rename, then the next sync
starts a new file at the next ``seq`` — verify it with ``--anchor`` from the previous file's end).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO

import msgspec

from opp.store.protocols import AuditLog

__all__ = ["JsonlSink", "open_jsonl_sink"]

_log = logging.getLogger("opp.audit")
_TAIL_CHUNK = 64 * 1024
_encoder = msgspec.json.Encoder()


class _Seq(msgspec.Struct):
    seq: int


_seq_decoder = msgspec.json.Decoder(_Seq)


def _last_line_seq(file: IO[bytes]) -> int:
    """The ``seq`` of the last complete line (0 for an empty file); cuts a torn last line off."""
    end = file.seek(0, os.SEEK_END)
    tail, start = b"", end
    while start > 0:
        start = max(0, start - _TAIL_CHUNK)
        file.seek(start)
        tail = file.read(end - start)
        if tail.count(b"\n") >= 2 or start == 0:
            break
    if tail and not tail.endswith(b"\n"):
        keep = start + tail.rfind(b"\n") + 1
        file.truncate(keep)
        tail = tail[: keep - start]
    lines = tail.rstrip(b"\n").rsplit(b"\n", 1)
    return _seq_decoder.decode(lines[-1]).seq if lines[-1] else 0


class JsonlSink:
    """Appends committed audit events to ``path`` (see the module docstring)."""

    def __init__(self, path: str | Path, log: AuditLog, batch_size: int = 1000) -> None:
        self.path = Path(path)
        self._log = log
        self._batch_size = batch_size

    async def sync(self) -> int:
        """Append every event committed since the file's last line; returns how many were written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as file:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # another worker is appending the same events
            try:
                return await self._append_after(file, _last_line_seq(file))
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)

    async def _append_after(self, file: IO[bytes], last_seq: int) -> int:
        written = 0
        while events := await self._log.read_chain(last_seq, self._batch_size):
            file.write(b"".join(_encoder.encode(event) + b"\n" for event in events))
            written += len(events)
            last_seq = events[-1].seq or last_seq
        if written:
            file.flush()
            os.fsync(file.fileno())
        return written

    async def close(self) -> None:
        """A last sync, logged and swallowed on failure."""
        with contextlib.suppress(Exception):
            await self.sync()


def open_jsonl_sink(jsonl_path: str | None, base_dir: str, log: AuditLog) -> JsonlSink | None:
    """The configured sink (``jsonl_path`` relative to ``base_dir``), or None when not configured."""
    if not jsonl_path:
        return None
    return JsonlSink(Path(base_dir, jsonl_path).resolve(), log)
