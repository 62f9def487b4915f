"""``opp proof``: sign a DPoP proof with the key ``opp token --oauth`` kept, for curl and scripts.

``opp proof KEYFILE METHOD URL --token TOKEN [--nonce N]`` prints one proof (fresh ``jti``,
``iat`` now, ``ath`` of the token): ``curl -H "Authorization: DPoP $TOKEN" -H "DPoP: $(opp proof …)"``.
A proof is good for one request (the gateway refuses a replayed ``jti``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from joserfc.jwk import ECKey

from opp.cli.oauth_client import OAuthClientError, dpop_proof, read_client_file
from opp.clock import SystemClock

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Print a DPoP proof for one request, signed with the key `opp token --oauth` saved."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key_file", type=Path, help="the client file printed by `opp token --oauth`")
    parser.add_argument("method", help="HTTP method of the request, e.g. GET")
    parser.add_argument("url", help="the request URL as the gateway's public_url names it")
    parser.add_argument("--token", help="the access token the proof accompanies (sets ath)")
    parser.add_argument("--nonce", help="a DPoP-Nonce the gateway sent")


def run(args: argparse.Namespace) -> int:
    try:
        client = read_client_file(args.key_file)
    except (OAuthClientError, OSError) as error:
        print(f"opp proof: {error}", file=sys.stderr)
        return 1
    key = ECKey.import_key(client.dpop_jwk)
    print(
        dpop_proof(
            key,
            method=args.method.upper(),
            htu=args.url,
            now=SystemClock().now(),
            nonce=args.nonce,
            access_token=args.token,
        )
    )
    return 0
