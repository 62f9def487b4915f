"""The reference runtime's contract files (``shared/reference``), read at test time, never copied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REFERENCE_DIR = Path(__file__).parents[2].parent / "shared" / "reference"
PROFILE_PATH = REFERENCE_DIR / "openport-v1-profile.json"
OPENAPI_PATH = REFERENCE_DIR / "openport-v1.openapi.yaml"


def require(path: Path) -> Path:
    """``path``, or skip the test with the reason when the reference file is absent."""
    if not path.is_file():
        pytest.skip(f"reference contract file not available: {path}")
    return path


def core_profile() -> dict[str, Any]:
    """The reference core conformance profile (skips when absent)."""
    profile: dict[str, Any] = json.loads(require(PROFILE_PATH).read_text(encoding="utf-8"))
    return profile
