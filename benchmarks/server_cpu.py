"""CPU per request over HTTP of each server process: one ``opp serve`` worker, PostgreSQL, Redis.

Usage: python -m benchmarks.server_cpu [--store sqlite|postgres+redis] [--case read|draft|auto-execute]
       [--duration 10] [--connections 32]

One ``opp serve --workers 1`` on the scale-out benchmark's config (benchmarks/scale_out.py: the
demo, one never-refusing per-key+IP quota, no CEL item filter), on SQLite or as one replica on
throwaway PostgreSQL and Redis servers (counters in Redis). After a warm-up, one ``wrk -t1`` drives
the case; the CPU time (user + system, from ``/proc/PID/stat``) that the gateway's processes, the
PostgreSQL server's processes and ``redis-server`` used meanwhile is divided by the requests
served. This separates what a replica costs from what its servers cost, which the requests/s of
benchmarks/scale_out.py (every process on the same two cores) cannot. Prints one line per
process group; writes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.read_ratio import free_port
from benchmarks.scale_out import CLI, _config, _servers, open_window, replica_config
from benchmarks.write_throughput import LUA, write_bodies
from tests.support.postgres import PostgresServer, running_postgres
from tests.support.redis import RedisServer

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def _pids(*pgrep: str) -> list[int]:
    found = subprocess.run(["pgrep", *pgrep], capture_output=True, text=True, check=False)
    return [int(pid) for pid in found.stdout.split()]


def _servers_of(postgres: PostgresServer, redis_server: RedisServer) -> Callable[[], dict[str, list[int]]]:
    """The processes of these two servers only (not another PostgreSQL on the machine), listed
    when called: PostgreSQL's backends exist once the gateway has connected."""
    postmaster = int((postgres.data_dir / "postmaster.pid").read_text().split()[0])
    assert redis_server.process is not None
    redis_pid = redis_server.process.pid
    return lambda: {"postgres": [postmaster, *_pids("-P", str(postmaster))], "redis-server": [redis_pid]}


def _measure(
    config: Path,
    admin: str,
    args: argparse.Namespace,
    servers: Callable[[], dict[str, list[int]]] = dict,
) -> None:
    token = subprocess.run([*CLI, "token", str(config)], check=True, capture_output=True, text=True)
    with _servers(config, [free_port()], 1) as urls:
        if args.case == "read":
            url, extra = (
                f"{urls[0]}/api/agent/v1/ledgers",
                ["-H", f"Authorization: Bearer {token.stdout.strip()}"],
            )
        else:
            script = config.parent / f"{args.case}.lua"
            body = json.dumps(write_bodies()[args.case][1])
            script.write_text(LUA.format(token=token.stdout.strip(), body=body))
            url, extra = f"{urls[0]}/api/agent/v1/actions", ["-s", str(script)]
        open_window(urls[0], admin)
        subprocess.run(["wrk", "-t1", "-c8", "-d3s", *extra, url], check=True, capture_output=True)
        groups = {"opp serve": _pids("-f", f"opp serve {config}"), **servers()}
        before = {name: _cpu_seconds(pids) for name, pids in groups.items()}
        command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", *extra, url]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        after = {name: _cpu_seconds(pids) for name, pids in groups.items()}
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rps = float(found.group(1)) if found else 0.0
    served = rps * args.duration
    print(f"{args.store} {args.case}: {rps:.0f} req/s (wrk -t1 -c{args.connections} -d{args.duration}s)")
    for name, pids in groups.items():
        if pids:
            used = 1e6 * (after[name] - before[name]) / max(served, 1)
            print(f"  {name:<14}{used:>8.0f} µs CPU per request")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--store", choices=("sqlite", "postgres+redis"), default="postgres+redis")
    parser.add_argument("--case", choices=("read", "draft", "auto-execute"), default="read")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    admin = f"opa_{secrets.token_urlsafe(32)}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.store == "sqlite":
            _measure(_config(root / "sqlite", admin), admin, args)
            return 0
        redis_server = RedisServer("redis-server", root / "redis")
        redis_server.start()
        try:
            with contextlib.contextmanager(running_postgres)() as postgres:
                database = postgres.create_database()
                config = replica_config(root / "replica", admin, database, redis_server.url)
                _measure(config, admin, args, _servers_of(postgres, redis_server))
        finally:
            redis_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
