"""The first-run surface of the command line: version, bare ``opp``, hints, start-up checks."""

from __future__ import annotations

import os
import socket
import stat
import sys
from pathlib import Path

import pytest

from opp.cli.common import shown_command
from opp.cli.main import main
from opp.cli.serve_checks import PortInUse, check_port_free, public_url_warning
from opp.compile import compile_file
from opp.compile.oauth import BIND_URL_ENV, DEFAULT_PUBLIC_URL
from opp.config.diagnostics import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("opp ") and out.strip() != "opp unknown"


def test_a_bare_opp_prints_the_help_and_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("usage: opp")
    assert "serve" in captured.out and "error" not in captured.err


def _program(directory: Path) -> Path:
    program = directory / "opp"
    program.write_text("#!/bin/sh\n", encoding="utf-8")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


def test_the_hint_says_opp_when_path_finds_this_program(tmp_path: Path) -> None:
    program = _program(tmp_path)
    assert shown_command(str(program), path=str(tmp_path)) == "opp"


def test_the_hint_names_the_venv_program_when_it_is_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    program = _program(bin_dir)
    monkeypatch.chdir(tmp_path)
    assert shown_command(str(program), path=str(tmp_path / "elsewhere")) == os.path.join(
        ".venv", "bin", "opp"
    )


def test_the_hint_for_python_dash_m_names_the_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shown = shown_command("/somewhere/opp/__main__.py", path="")
    assert shown.endswith(" -m opp")
    interpreter = shown.removesuffix(" -m opp")
    assert os.path.realpath(interpreter) == os.path.realpath(sys.executable)


def test_a_port_someone_listens_on_is_refused_with_a_clear_message() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as granian binds
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUse, match=rf"cannot listen on 127\.0\.0\.1:{port}: .*choose another port"):
            check_port_free("127.0.0.1", port)


def test_a_free_port_passes_the_check() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check_port_free("127.0.0.1", port)


@pytest.mark.parametrize(
    ("public_url", "host", "port", "warns"),
    [
        (None, "127.0.0.1", 9000, False),
        ("http://127.0.0.1:8080", "127.0.0.1", 8080, False),
        ("http://localhost:8080", "0.0.0.0", 8080, False),
        ("http://127.0.0.1:8080", "127.0.0.1", 9000, True),
        ("http://[::1]:8080", "::1", 9000, True),
        ("https://opp.example.com", "127.0.0.1", 9000, False),  # behind a proxy: different on purpose
    ],
)
def test_an_explicit_loopback_public_url_that_disagrees_is_warned_about(
    public_url: str | None, host: str, port: int, warns: bool
) -> None:
    warning = public_url_warning(public_url, host, port)
    assert (warning is not None) is warns
    if warning:
        assert public_url in warning and f"{host}:{port}" in warning


def test_an_unset_public_url_follows_the_bind_address() -> None:
    plan = compile_file(ROOT / "gateway.yaml", environ={BIND_URL_ENV: "http://127.0.0.1:9000"})
    assert plan.oauth.public_url == "http://127.0.0.1:9000"
    assert plan.oauth.resource == "http://127.0.0.1:9000/"
    assert plan.oauth.dev_issuer == "http://127.0.0.1:9000"


def test_without_a_bind_address_the_default_public_url_is_used() -> None:
    plan = compile_file(ROOT / "gateway.yaml", environ={})
    assert plan.oauth.public_url == DEFAULT_PUBLIC_URL


def test_an_explicit_public_url_wins_over_the_bind_address(tmp_path: Path) -> None:
    text = (ROOT / "gateway.yaml").read_text(encoding="utf-8")
    config = tmp_path / "gateway.yaml"
    config.write_text(text.replace("gateway:\n", "gateway:\n  public_url: https://opp.example.com/\n", 1))
    plan = compile_file(config, environ={BIND_URL_ENV: "http://127.0.0.1:9000"})
    assert plan.oauth.public_url == "https://opp.example.com"


@pytest.mark.parametrize(
    ("text", "line", "hint"),
    [
        ("gateway:\n\tname: x\n", 2, "a tab character"),
        ("gateway:\n  name x\n  store: 1\n", 3, "line 2 has no ':' after its key"),
        ("gateway:\n  name: x\n   public_url: y\n", 3, "the indentation"),
        ("tools:\n  - name: a\n   risk: low\n", 3, "does not line up with the entries above it"),
    ],
)
def test_yaml_syntax_errors_keep_their_position_and_say_the_usual_cause(
    tmp_path: Path, text: str, line: int, hint: str
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as failed:
        compile_file(config)
    (diagnostic,) = failed.value.diagnostics
    assert diagnostic.code == "config.yaml_syntax"
    assert diagnostic.line == line
    assert diagnostic.hint is not None and hint in diagnostic.hint
