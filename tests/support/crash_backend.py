"""A backend that records each effect (one line per idempotency key in ``effects.log``).

``apply`` returns at once, ``apply_then_pause`` two seconds later, ``apply_then_hang`` never (the
window in which a crash must not lead to a second effect). Copied next to a test's gateway.yaml and
imported from there (``module: crash_backend``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any


def setup(options: dict[str, Any], base_dir: str) -> Path:
    return Path(base_dir) / "effects.log"


def apply(call: Any, effects: Path) -> Any:
    with effects.open("a", encoding="utf-8") as log:
        log.write(f"{call.context.idempotency_key}\n")
    return {"applied": True}


async def apply_then_pause(call: Any, effects: Path) -> Any:
    apply(call, effects)
    await asyncio.sleep(2)
    return {"applied": True}


async def apply_then_hang(call: Any, effects: Path) -> Any:
    apply(call, effects)
    await asyncio.sleep(3600)
    return {"applied": True}


def count(call: Any, effects: Path) -> Any:
    return {"effects": effects.read_text(encoding="utf-8").count("\n") if effects.exists() else 0}
