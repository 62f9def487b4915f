"""Third-party peers for the interoperability tests: a real OAuth AS, a real agent, real nginx.

* :func:`running_authorization_server` runs panva's oidc-provider (``tests/interop/node/as.mjs``)
  on a loopback port; :func:`run_agent` runs the oauth4webapi agent (``agent.mjs``) once.
* :func:`make_pki` makes a P-256 CA, a server certificate for ``127.0.0.1`` and client certificates
  with the ``openssl`` command line; :func:`running_nginx` terminates mTLS in front of an upstream.
* :func:`require_peers` skips a test when node or nginx is absent on this machine, or fails it when
  ``OPP_REQUIRE_INTEROP=1`` (CI installs them with ``scripts/ci-install-interop.sh``).

Every process binds 127.0.0.1 (nginx's upstream connections leave from 127.0.0.2), lives in its own
process group and is stopped in a ``finally``: SIGTERM, then SIGKILL if it lingers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.support.required import REQUIRE_ENV, unavailable
from tests.support.servers import ROOT, RunningServer, demo_config, free_port, running_server

__all__ = [
    "NODE_DIR",
    "PROXY_ADDRESS",
    "REQUIRE_ENV",
    "AuthorizationServer",
    "ClientCertificate",
    "OAuthClient",
    "Pki",
    "escaped_pem",
    "jwt_claims",
    "make_pki",
    "oauth_gateway_config",
    "require_peers",
    "rfc9440_header",
    "run_agent",
    "running_authorization_server",
    "running_gateway",
    "running_nginx",
    "x5t_s256",
]

NODE_DIR = ROOT / "tests" / "interop" / "node"
STARTUP_DEADLINE = 20.0
STOP_GRACE = 5.0
AGENT_TIMEOUT = 45.0
PROXY_ADDRESS = "127.0.0.2"
"""Where nginx's connections to its upstream come from (``proxy_bind``): the trusted proxy."""


def _locate(program: str) -> str | None:
    """``program`` on PATH, or in /usr/sbin (nginx's home on Debian, off a normal user's PATH)."""
    return shutil.which(program) or shutil.which(program, path="/usr/sbin")


def require_peers(*programs: str) -> None:
    """Skip (or, with ``OPP_REQUIRE_INTEROP=1``, fail) unless ``programs`` and the npm peers exist."""
    missing = [name for name in programs if _locate(name) is None]
    if "node" in programs and not (NODE_DIR / "node_modules").is_dir():
        missing.append(f"{NODE_DIR.relative_to(ROOT)}/node_modules (npm ci there)")
    if not missing:
        return
    unavailable(
        f"interop peers not installed: {', '.join(missing)}; scripts/ci-install-interop.sh installs them"
    )


# -- processes ---------------------------------------------------------------------------------


@dataclass
class _Background:
    """A peer process (leader of its own process group) and the files it writes to."""

    name: str
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def output(self) -> str:
        """What it printed so far, for failure messages."""
        parts = []
        for stream, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
            parts.append(f"--- {self.name} {stream}\n{text}")
        return "".join(parts)

    def wait_until(self, ready: Callable[[], bool], deadline: float = STARTUP_DEADLINE) -> None:
        """Poll ``ready`` until it holds; fail with the process's output if it exits or takes too long."""
        until = time.monotonic() + deadline
        while not ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}\n{self.output()}")
            if time.monotonic() > until:
                raise RuntimeError(f"{self.name} not ready within {deadline:.0f}s\n{self.output()}")
            time.sleep(0.05)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """``sig`` to the process group, SIGKILL if it has not exited after a grace period."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_GRACE)
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_GRACE)


@contextmanager
def _background(
    name: str, command: Sequence[str], *, cwd: Path, logs: Path, env: Mapping[str, str] | None = None
) -> Iterator[_Background]:
    logs.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = logs / f"{name}.stdout", logs / f"{name}.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    peer = _Background(name, process, stdout_path, stderr_path)
    try:
        yield peer
    finally:
        peer.stop()


# -- the authorization server (oidc-provider) --------------------------------------------------


@dataclass(frozen=True)
class OAuthClient:
    """A client registered at the AS; extra ``metadata`` is oidc-provider client metadata."""

    client_id: str
    client_secret: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def registration(self) -> dict[str, Any]:
        return {**self.metadata, "client_id": self.client_id, "client_secret": self.client_secret}


@dataclass(frozen=True)
class AuthorizationServer:
    """A running oidc-provider: its issuer identifier and discovered metadata."""

    issuer: str
    metadata: Mapping[str, Any]

    @property
    def token_endpoint(self) -> str:
        return str(self.metadata["token_endpoint"])


@contextmanager
def running_authorization_server(
    directory: Path,
    *,
    resources: Sequence[str],
    clients: Sequence[OAuthClient],
    opaque_resources: Sequence[str] = (),
    dpop_nonce: bool = False,
) -> Iterator[AuthorizationServer]:
    """Run ``as.mjs`` (oidc-provider) on a free loopback port until the block exits.

    Args:
        directory: Where its logs go.
        resources: Gateway resource identifiers; tokens for them are ES256 JWTs (RFC 9068).
        clients: The registered clients.
        opaque_resources: Resources whose tokens are opaque (RFC 7662 introspection only).
        dpop_nonce: Whether the token endpoint requires DPoP nonces.
    """
    port = free_port()
    env = {
        "PORT": str(port),
        "RESOURCES": " ".join(resources),
        "OPAQUE_RESOURCES": " ".join(opaque_resources),
        "CLIENTS": json.dumps([client.registration() for client in clients]),
        "DPOP_NONCE": "1" if dpop_nonce else "0",
    }
    with _background(f"as-{port}", ["node", "as.mjs"], cwd=NODE_DIR, logs=directory, env=env) as peer:
        peer.wait_until(lambda: '"ready":true' in peer.stdout_path.read_text(encoding="utf-8"))
        issuer = f"http://127.0.0.1:{port}"
        metadata = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json()
        yield AuthorizationServer(issuer, metadata)


# -- the oauth4webapi agent --------------------------------------------------------------------


def run_agent(
    gateway_url: str, client: OAuthClient, *, alg: str = "ES256", scope: str | None = None
) -> dict[str, Any]:
    """Run ``agent.mjs`` against ``gateway_url`` once and return the JSON line it printed.

    Fails the test with the agent's output when it did not finish its flow (``ok: false``).
    """
    command = ["node", "agent.mjs", "--gateway", gateway_url, "--client-id", client.client_id, "--alg", alg]
    if scope is not None:
        command += ["--scope", scope]
    result = subprocess.run(
        command,
        cwd=NODE_DIR,
        env={**os.environ, "AGENT_CLIENT_SECRET": client.client_secret},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=AGENT_TIMEOUT,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    report: dict[str, Any] = json.loads(lines[-1]) if lines else {"ok": False, "error": "no output"}
    if not report.get("ok"):
        pytest.fail(f"agent.mjs failed ({result.returncode}): {report}\n{result.stderr}")
    return report


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWT, NOT verified (to inspect what the AS issued)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


# -- certificates (openssl) --------------------------------------------------------------------


@dataclass(frozen=True)
class ClientCertificate:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    """A test CA, a server certificate for ``IP:127.0.0.1`` and named client certificates."""

    ca: Path
    server_cert: Path
    server_key: Path
    clients: Mapping[str, ClientCertificate]


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def _signed_certificate(directory: Path, name: str, subject: str, extensions: str) -> tuple[Path, Path]:
    key, csr, cert, ext = (directory / f"{name}{suffix}" for suffix in (".key", ".csr", ".pem", ".ext"))
    ext.write_text(extensions, encoding="ascii")
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key.name, cwd=directory)
    _openssl("req", "-new", "-key", key.name, "-subj", subject, "-out", csr.name, cwd=directory)
    _openssl(
        "x509", "-req", "-in", csr.name, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-sha256", "-extfile", ext.name, "-out", cert.name, cwd=directory,
    )  # fmt: skip
    return cert, key


def make_pki(directory: Path, client_names: Sequence[str] = ("agent", "intruder")) -> Pki:
    """Generate a P-256 CA, a server certificate (SAN ``IP:127.0.0.1``) and client certificates."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=opp interop test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        cwd=directory,
    )  # fmt: skip
    server_cert, server_key = _signed_certificate(
        directory,
        "server",
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    clients = {
        name: ClientCertificate(
            *_signed_certificate(directory, f"client-{name}", f"/CN={name}", "extendedKeyUsage=clientAuth\n")
        )
        for name in client_names
    }
    return Pki(directory / "ca.pem", server_cert, server_key, clients)


def x5t_s256(cert: Path) -> str:
    """RFC 8705 ``x5t#S256``: base64url(SHA-256(DER)), unpadded."""
    return base64.urlsafe_b64encode(hashlib.sha256(_der(cert)).digest()).rstrip(b"=").decode("ascii")


def _der(cert: Path) -> bytes:
    return x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(Encoding.DER)


def rfc9440_header(cert: Path) -> str:
    """The certificate as an RFC 9440 ``Client-Cert`` value: ``:<base64 DER>:``."""
    return f":{base64.b64encode(_der(cert)).decode('ascii')}:"


def escaped_pem(cert: Path) -> str:
    """The certificate as nginx's ``$ssl_client_escaped_cert`` forwards it: URL-encoded PEM."""
    return urllib.parse.quote(cert.read_text(encoding="ascii"), safe="")


# -- nginx -------------------------------------------------------------------------------------


def _nginx_conf(root: Path, port: int, upstream: str, pki: Pki) -> str:
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"  {kind}_temp_path {root / (kind + '_temp')};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}daemon off;
master_process on;
worker_processes 1;
pid {root / "nginx.pid"};
error_log {root / "error.log"} info;
events {{ worker_connections 64; }}
http {{
  access_log {root / "access.log"};
{temp}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {pki.server_cert};
    ssl_certificate_key {pki.server_key};
    ssl_verify_client optional_no_ca;
    location / {{
      proxy_bind {PROXY_ADDRESS};
      proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
      proxy_set_header Client-Cert "";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header Host $http_host;
      proxy_pass http://{upstream};
    }}
  }}
}}
"""


def _accepts_tls(port: int, pki: Pki) -> bool:
    context = ssl.create_default_context(cafile=str(pki.ca))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=1) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            return True
    except OSError:
        return False


@contextmanager
def running_nginx(directory: Path, *, port: int, upstream: str, pki: Pki) -> Iterator[str]:
    """Run nginx terminating mTLS on ``https://127.0.0.1:PORT`` in front of ``upstream`` (``host:port``).

    Client certificates are requested but optional and not CA-validated (``optional_no_ca``, as for
    self-signed RFC 8705 clients); nginx forwards the certificate as ``X-SSL-Client-Cert`` (URL-encoded
    PEM), removes any inbound ``Client-Cert``, and connects to ``upstream`` from 127.0.0.2.

    Yields:
        The TLS base URL, e.g. ``https://127.0.0.1:41234``.
    """
    root = directory / "nginx"
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(_nginx_conf(root, port, upstream, pki), encoding="utf-8")
    command = [_locate("nginx") or "nginx", "-c", str(conf), "-p", str(root), "-e", str(root / "error.log")]
    with _background(f"nginx-{port}", command, cwd=root, logs=root) as peer:
        try:
            peer.wait_until(lambda: _accepts_tls(port, pki))
        except RuntimeError as failed:
            error_log = root / "error.log"
            raise RuntimeError(f"{failed}\n{error_log.read_text() if error_log.exists() else ''}") from None
        yield f"https://127.0.0.1:{port}"


# -- the gateway -------------------------------------------------------------------------------


def oauth_gateway_config(
    directory: Path,
    *,
    public_url: str,
    issuer: Mapping[str, Any],
    apps: Sequence[Mapping[str, Any]],
    oauth: Mapping[str, Any] | None = None,
    gateway: Mapping[str, Any] | None = None,
) -> Path:
    """The demo ``gateway.yaml`` trusting one external issuer, with ``apps`` declared.

    The built-in development AS is off, so the protected resource metadata names ``issuer`` alone;
    ``oauth`` and ``gateway`` are merged over the generated sections.
    """
    directory.mkdir(parents=True, exist_ok=True)
    overrides = {
        "gateway": {"public_url": public_url, **(gateway or {})},
        "apps": [dict(app) for app in apps],
        "oauth": {
            "enabled": True,
            "issuers": [dict(issuer)],
            "dev_server": {"enabled": False},
            **(oauth or {}),
        },
    }
    return demo_config(directory, overrides)


@contextmanager
def running_gateway(config: Path, port: int) -> Iterator[RunningServer]:
    """``opp serve`` on 127.0.0.1:PORT: the port its ``public_url`` (DPoP ``htu``, ``aud``) names."""
    with running_server(config, port=port) as server:
        yield server
