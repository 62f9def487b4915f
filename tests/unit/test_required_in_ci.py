"""Requirements that skip on a laptop fail under ``OPP_REQUIRE_INTEROP=1`` (CI): the reference
contract, the CEL conformance data, the IPv6 loopback and the interop peers cannot drop silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.reference import require
from tests.support.required import REQUIRE_ENV, unavailable


def test_unavailable_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"^no peer$"):
        unavailable("no peer")


def test_unavailable_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"^no peer \(OPP_REQUIRE_INTEROP=1: required here\)$"):
        unavailable("no peer")


def test_a_missing_reference_file_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "openport-v1-profile.json"
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="reference contract file not available"):
        require(missing)
    monkeypatch.setenv(REQUIRE_ENV, "0")
    with pytest.raises(pytest.skip.Exception, match="reference contract file not available"):
        require(missing)
    missing.write_text("{}", encoding="utf-8")
    assert require(missing) == missing


def test_every_skip_in_the_suite_goes_through_unavailable() -> None:
    """A new bare ``pytest.skip``/``skipif`` on a missing requirement would bypass CI's check."""
    tests = Path(__file__).parents[1]
    allowed = {
        "tests/support/required.py",  # the one place
        "tests/unit/admission/test_compile_rate_limits.py",  # skips when an optional package IS present
    }
    offenders = []
    for path in sorted(tests.rglob("*.py")):
        relative = path.relative_to(tests.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        if (
            relative not in allowed
            and path != Path(__file__)
            and ("pytest.skip(" in text or ".skipif(" in text)
        ):
            offenders.append(relative)
    assert offenders == []
