"""Every layered profile against a real ``opp serve --workers 2`` on a copy of the root gateway.yaml,
through the CLI as a user runs it; the JUnit report lists every check of every profile."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from opp.conformance.model import load_named_profiles
from tests.support.servers import ROOT, RunningServer, mint_token, run_cli, running_server


@pytest.fixture(scope="module")
def root_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("root-gateway")
    config = directory / "gateway.yaml"
    shutil.copyfile(ROOT / "gateway.yaml", config)
    with running_server(config, workers=2) as server:
        yield server


def _admin_token(config: Path, role: str) -> str:
    # Distinct names: the approver must not be the admin that creates the checks' apps.
    result = run_cli(
        "token", str(config), "--admin", "--role", role, "--name", f"conformance {role}", cwd=config.parent
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_every_profile_passes_and_the_junit_report_lists_every_check(
    root_server: RunningServer, tmp_path: Path
) -> None:
    config = root_server.config
    junit = tmp_path / "conformance.xml"
    result = run_cli(
        "conformance",
        "--base-url",
        root_server.base_url,
        "--profile",
        "all",
        "--token",
        mint_token(config),
        "--admin-token",
        _admin_token(config, "admin"),
        "--approver-token",
        _admin_token(config, "approver"),
        "--auditor-token",
        _admin_token(config, "auditor"),
        "--junit",
        str(junit),
        "--require-all",
        cwd=config.parent,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    suites = {suite.get("name"): suite for suite in ElementTree.parse(junit).getroot()}
    profiles = load_named_profiles(["all"])
    assert list(suites) == [profile.name for profile in profiles]
    for profile in profiles:
        cases = suites[profile.name].findall("testcase")
        assert [case.get("name") for case in cases] == [check.id for check in profile.checks]
        assert {case.get("classname") for case in cases} == {profile.name}
        assert all(len(case) == 0 for case in cases), "no failure and no skip"
    assert "passed" in result.stdout.splitlines()[-1]
