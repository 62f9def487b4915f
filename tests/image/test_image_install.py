"""The image's contents without a container daemon: scripts/image-install.sh (what the Dockerfile's
build stage runs) installs opp from uv.lock into a scratch prefix, and ``opp serve`` starts from it.

The install reuses the dev venv's uv and runs with ``UV_OFFLINE=1``: everything comes from the lock
and uv's cache, which ``make install`` filled. The Dockerfile itself is checked for what the chart
relies on (non-root uid, entrypoint, config path); it is not built here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.servers import ROOT, free_port

DEADLINE = 30.0
CHART_VALUES = yaml.safe_load((ROOT / "charts" / "opp" / "values.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("image") / "opt-opp"
    env = {**os.environ, "UV": str(ROOT / ".venv" / "bin" / "uv"), "UV_OFFLINE": "1"}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "image-install.sh"), str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().startswith("opp ")
    return target


def _isolated_env(prefix: Path) -> dict[str, str]:
    """Only the prefix on PATH, no PYTHONPATH: nothing from the source tree or the dev venv leaks in."""
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR")}
    return {**keep, "PATH": f"{prefix / 'venv' / 'bin'}:/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}


def test_opp_is_installed_into_the_prefix_not_linked_to_the_source(prefix: Path, tmp_path: Path) -> None:
    python = prefix / "venv" / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import opp, psycopg, redis; print(opp.__file__)"],
        cwd=tmp_path,
        env=_isolated_env(prefix),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(prefix), where
    assert not (prefix / ".build").exists()  # uv stays out of the image


@pytest.mark.parametrize("dev_only", ["pytest", "mypy", "helm_python", "hypothesis"])
def test_dev_and_test_packages_stay_out(prefix: Path, tmp_path: Path, dev_only: str) -> None:
    result = subprocess.run(
        [str(prefix / "venv" / "bin" / "python"), "-c", f"import {dev_only}"],
        cwd=tmp_path,
        env=_isolated_env(prefix),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


@pytest.fixture
def served(prefix: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump({"version": 1, "store": {"kind": "sqlite", "path": str(tmp_path / "opp.db")}}),
        encoding="utf-8",
    )
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        ["opp", "serve", str(config), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tmp_path,
        env=_isolated_env(prefix),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        log.close()


def test_opp_serve_starts_from_the_prefix(
    served: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    base_url, process = served
    deadline = time.monotonic() + DEADLINE
    with httpx.Client(timeout=1.0) as client:
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if client.get(f"{base_url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        ready = client.get(f"{base_url}/readyz")
        assert ready.status_code == 200, ready.text
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(15) == 0


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_dockerfile_is_multi_stage_on_a_pinned_base_and_runs_the_install_script() -> None:
    text = _dockerfile()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base.group(1))
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?$", text, re.MULTILINE)
    assert stages == [("${PYTHON_IMAGE}", "build"), ("${PYTHON_IMAGE}", "")]
    assert "RUN bash scripts/image-install.sh /opt/opp" in text
    assert "COPY --from=build /opt/opp /opt/opp" in text


def test_dockerfile_matches_what_the_chart_runs() -> None:
    text = _dockerfile()
    uid = CHART_VALUES["podSecurityContext"]["runAsUser"]
    assert re.search(rf"^USER {uid}:{CHART_VALUES['podSecurityContext']['runAsGroup']}$", text, re.MULTILINE)
    assert uid != 0
    assert 'ENTRYPOINT ["opp", "serve"]' in text
    assert (
        f'CMD ["/etc/opp/gateway.yaml", "--host", "0.0.0.0", "--port", "{CHART_VALUES["containerPort"]}"]'
        in text
    )
    assert "ENV PATH=/opt/opp/venv/bin:$PATH" in text


def test_dockerignore_keeps_local_state_out_and_the_build_inputs_in() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".opp", "*.env", "tests"} <= ignored
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", _dockerfile(), re.MULTILINE)
    inputs = {part for line in copied for part in line.split()}
    assert inputs == {
        "requirements/uv.txt",
        "pyproject.toml",
        "uv.lock",
        "README.md",
        "opp",
        "scripts/image-install.sh",
    }
    assert not inputs & ignored


def test_every_data_file_of_the_package_is_installed(prefix: Path) -> None:
    """Templates, static files, py.typed: what an editable install reads from the source tree."""
    source = ROOT / "opp"
    wanted = {
        path.relative_to(source)
        for path in source.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }
    [installed] = (prefix / "venv" / "lib").glob("python3*/site-packages/opp")
    missing = sorted(str(path) for path in wanted if not (installed / path).is_file())
    assert wanted and missing == [], f"add them to [tool.setuptools.package-data]: {missing}"
