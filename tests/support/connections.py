"""Which process of a multi-worker server answers a given TCP connection (Linux ``/proc``).

The kernel hands each accepted connection to one worker; a test that must reach a *particular*
worker opens connections until one lands there. The serving process is found deterministically:
``/proc/net/tcp{,6}`` maps the connection (server port, client port) to a socket inode, and the
worker holding that inode among its file descriptors is the one that accepted it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["descendants", "serving_pid"]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, …)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            pending += children
    return found


def _socket_inode(server_port: int, client_port: int) -> int | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], int(fields[9])
            if (
                int(local.rsplit(":", 1)[1], 16) == server_port
                and int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                return inode
    return None


def serving_pid(server_port: int, client_port: int, candidates: list[int]) -> int | None:
    """The process among ``candidates`` holding the server side of the connection from ``client_port``."""
    inode = _socket_inode(server_port, client_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in candidates:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None
