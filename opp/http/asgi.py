"""ASGI entry point for server workers: ``OPP_CONFIG`` names the ``gateway.yaml`` to serve.

Each worker process compiles the Plan itself (cheap, deterministic: the parent already compiled
the same file and refused to start on errors) and opens its own store connection.
"""

from __future__ import annotations

import os

from litestar import Litestar

from opp.compile import compile_file
from opp.http.app import create_app

__all__ = ["app_from_env"]

CONFIG_ENV = "OPP_CONFIG"


def app_from_env() -> Litestar:
    return create_app(compile_file(os.environ.get(CONFIG_ENV, "gateway.yaml")))
