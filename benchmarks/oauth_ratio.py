"""Governed read with an ES256 JWT + a fresh DPoP proof per request vs the bare route, one run.

Usage: python -m benchmarks.oauth_ratio [--workers 2] [--duration 10] [--connections 64] [--rounds 1]

1. ``bare``        a Litestar JSON route (benchmarks/bare_app.py) under granian;
2. ``opaque-key``  ``GET /api/agent/v1/ledgers`` with an opaque key (as in read_ratio's ``governed``);
3. ``oauth+dpop``  the same route with a DPoP-bound RFC 9068 JWT from the development authorization
                   server (``opp token --oauth``) and a NEW proof on every request (own ``jti``,
                   ``ath``, ``iat``): the gateway verifies the proof signature each time, checks the
                   replay cache (shared by the workers in a mapped file) and serves the token from its
                   verified-token cache.

wrk cannot sign, so the proofs are signed before the run (as many as the run can use) and a Lua
script hands each request the next one; every proof is used exactly once. Writes
benchmarks/results-oauth.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwk

from benchmarks.read_ratio import bare, config_copy, free_port, governed, options, parse_wrk, report, running
from benchmarks.rounds import Results, run_rounds
from opp.oauth.dpop import access_token_hash
from opp.oauth.jwk_keys import b64url_encode

LUA = """
local proofs = {}
local index = 0
local counter = 0
local threads = {}
function setup(thread)
  counter = counter + 1
  thread:set("slice", counter)
  table.insert(threads, thread)
end
function init(args)
  local total = tonumber(args[2])
  local n = 0
  for line in io.lines(args[1]) do
    n = n + 1
    if n % total == slice - 1 then table.insert(proofs, line) end
  end
  token = args[3]
end
function request()
  index = index + 1
  if index > #proofs then
    error("out of proofs")
  end
  return wrk.format("GET", nil, {["Authorization"] = "DPoP " .. token, ["DPoP"] = proofs[index]})
end
"""


def sign_proofs(key_file: Path, htu: str, token: str, count: int) -> list[str]:
    """``count`` ES256 proofs for ``GET htu`` bound to ``token``, each with its own ``jti``."""
    key = jwk.import_key(json.loads(key_file.read_text())["dpop_jwk"])
    public = {k: v for k, v in key.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")}
    header = b64url_encode(json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": public}).encode())
    ath, now = access_token_hash(token), int(time.time())
    private = key.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    proofs = []
    for n in range(count):
        claims = {"jti": f"bench-{now}-{n}", "htm": "GET", "htu": htu, "iat": now, "ath": ath}
        signing_input = f"{header}.{b64url_encode(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        proofs.append(f"{signing_input}.{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}")
    return proofs


def oauth_run(config: Path, workers: int, duration: int, connections: int, tmp: Path) -> dict[str, float]:
    port = free_port()
    data = yaml.safe_load(config.read_text())
    data["gateway"]["public_url"] = f"http://127.0.0.1:{port}"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    cmd = [sys.executable, "-m", "opp", "serve", str(config), "--port", str(port), "--workers", str(workers)]
    with running([*cmd, "--log-level", "error"], f"http://127.0.0.1:{port}/healthz"):
        out = subprocess.run(
            [sys.executable, "-m", "opp", "token", str(config), "--oauth", "--app", "app_demo"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        token, key_file = out[0].strip(), Path(out[1].split(":", 1)[1].strip())
        url = f"http://127.0.0.1:{port}/api/agent/v1/ledgers"
        count = 12_000 * duration
        proofs = tmp / "proofs.txt"
        proofs.write_text("\n".join(sign_proofs(key_file, url, token, count)) + "\n")
        script = tmp / "dpop.lua"
        script.write_text(LUA)
        cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url]
        result = subprocess.run(
            [*cmd, "--", str(proofs), "2", token], check=True, capture_output=True, text=True
        )
        if "out of proofs" in result.stderr:
            raise RuntimeError("the oauth+dpop run used every proof signed for it: sign more")
        return parse_wrk(url, result.stdout)


def main() -> int:
    args = options(__doc__)
    if args is None:
        return 2
    report(args, run_rounds(args.rounds, lambda: _measure(args)), "results-oauth.json")
    return 0


def _measure(args: argparse.Namespace) -> Results:
    results: Results = {"bare": bare(args.workers, args.duration, args.connections)}
    with tempfile.TemporaryDirectory() as tmp:
        opaque = config_copy(Path(tmp), "opaque", True)
        results["opaque-key"] = governed(opaque, args.workers, args.duration, args.connections)
        dpop = config_copy(Path(tmp), "dpop", True)
        results["oauth+dpop"] = oauth_run(dpop, args.workers, args.duration, args.connections, Path(tmp))
    return results


if __name__ == "__main__":
    raise SystemExit(main())
