"""The reference runtime's contract files (``shared/reference``), read at test time, never copied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.required import unavailable

REFERENCE_DIR = Path(__file__).parents[2].parent / "shared" / "reference"
PROFILE_PATH = REFERENCE_DIR / "openport-v1-profile.json"
OPENAPI_PATH = REFERENCE_DIR / "openport-v1.openapi.yaml"


def require(path: Path) -> Path:
    """``path``; when the reference file is absent, skip the test (fail it in CI, see ``required``)."""
    if not path.is_file():
        unavailable(f"reference contract file not available: {path}")
    return path


def core_profile() -> dict[str, Any]:
    """The reference core conformance profile (skips, or fails in CI, when absent)."""
    profile: dict[str, Any] = json.loads(require(PROFILE_PATH).read_text(encoding="utf-8"))
    return profile
