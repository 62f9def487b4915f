"""Start-up checks of ``opp serve``: the port is free, the public URL agrees with the bind address.

granian binds its listening socket with ``SO_REUSEPORT``, so a second server on a busy port would
silently share its traffic with the first (a stale old server keeps answering with an old config).
:func:`check_port_free` binds the address once without ``SO_REUSEPORT`` first: the kernel refuses
that while any socket listens there.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse

__all__ = ["PortInUse", "check_port_free", "public_url_warning"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class PortInUse(Exception):
    """The address ``opp serve`` was asked to bind is taken (the message says what to do)."""


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`PortInUse` when ``host:port`` cannot be bound exclusively right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
        probe.bind((host, port))
    except OSError as error:
        raise PortInUse(
            f"cannot listen on {host}:{port}: {error.strerror or error}. Another process (perhaps an "
            f"earlier `opp serve`) is using it: stop it, or choose another port with --port."
        ) from None
    finally:
        probe.close()


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def public_url_warning(public_url: str | None, host: str, port: int) -> str | None:
    """A warning when an explicit loopback ``public_url`` names another address than the bind one.

    Behind a proxy the two differ on purpose, so only a loopback public URL is compared: there a
    mismatch means agents build DPoP proofs and metadata URLs for a server that is not this one.
    """
    if public_url is None:
        return None
    parsed = urllib.parse.urlsplit(public_url)
    if not parsed.hostname or not _is_loopback(parsed.hostname):
        return None
    public_port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if public_port == port and (_is_loopback(host) or host in {"0.0.0.0", "::"}):  # noqa: S104
        return None
    return (
        f"gateway.public_url is {public_url} but the server listens on {host}:{port}; DPoP proofs "
        f"and OAuth metadata will name {public_url}. Remove gateway.public_url to follow the bind "
        f"address, or serve on port {public_port}."
    )
