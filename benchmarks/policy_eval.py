"""µs per CEL rule evaluation: cel-python's interpreter vs the compiled evaluator, side by side.

Usage: python benchmarks/policy_eval.py [--repeat 5]

Rules: the demo policies of gateway.yaml (tool ``transaction.list``, with a date range so every
clause runs), the demo ``filter_items`` rule, a 5-clause policy over a principal carrying 50
groups and 20 claims, and opp's ``glob`` and CIDR functions (both call forms each). Each figure
is the best of ``--repeat`` runs of a timed loop. Prints a table and writes
benchmarks/policy_results.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import yaml

from opp.policy import PolicyEnvironment, Program, build_environment, compile_rule
from opp.policy.engine import ENGINES

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "policy_results.json"
TARGET_US, TARGET_SPEEDUP = 20.0, 25.0

FIVE_CLAUSES = (
    "'group-17' in principal.claims.groups"
    " && principal.claims.level >= 3"
    " && principal.tenant == app.tenant"
    " && principal.scopes.exists(s, s.startsWith('transaction.'))"
    " && !(args.ledgerId in ['led_blocked', 'led_frozen'])"
)

GLOB_RULE = 'tool.name.glob("transaction.*") && !glob(request.path, "/admin/*")'
CIDR_RULE = 'request.ip.inCidr("10.0.0.0/8") || ip_in_cidr(request.ip, "127.0.0.0/8")'


def _activation() -> dict[str, Any]:
    claims: dict[str, Any] = {f"claim_{i}": f"value-{i}" for i in range(18)}
    claims |= {"groups": [f"group-{i}" for i in range(50)], "level": 4}
    return {
        "principal": {
            "sub": "svc_org_demo",
            "client_id": "app_demo",
            "app_id": "app_demo",
            "key_id": "key_1",
            "scopes": ["ledger.read", "transaction.read", "transaction.write"],
            "tenant": "org_demo",
            "claims": claims,
            "roles": [],
        },
        "app": {
            "id": "app_demo",
            "name": "Demo",
            "scope": "workspace",
            "tenant": "org_demo",
            "policy": {"allowed_ledger_ids": ["led_1", "led_2"], "max_days": 30},
        },
        "tool": {"name": "transaction.list", "risk": "low", "kind": "read"},
        "request": {
            "ip": "127.0.0.1",
            "method": "GET",
            "path": "/transactions",
            "time": "2025-03-15T12:00:00Z",
            "user_agent": "bench",
        },
        "args": {"ledgerId": "led_1", "startDate": "2025-03-01", "endDate": "2025-03-10"},
        "resource": {
            "id": "led_1",
            "ledgerId": "led_1",
            "org_id": "org_demo",
            "name": "Main",
            "currency": "EUR",
        },
        "item": {"id": "led_1", "name": "Main"},
    }


def _environment(config: dict[str, Any], tool: dict[str, Any]) -> PolicyEnvironment:
    resource = tool.get("resource")
    return build_environment(
        app_policy_schema=config["app_policy_schema"],
        input_schema=tool["input_schema"],
        resource_fields=config["resources"][resource["type"]]["fields"] if resource else None,
        item=True,
    )


def _rules(config: dict[str, Any]) -> list[tuple[str, str, PolicyEnvironment]]:
    """(name, source, environment) of every demo policy (at its first tool), filter and the 5 clauses."""
    sources = {rule["id"]: rule["when"] for rule in config["policies"]}
    rules: dict[str, tuple[str, str, PolicyEnvironment]] = {}
    for tool in config["tools"]:
        for name in tool.get("policies") or ():
            if name not in rules:
                rules[name] = (f"demo: {name}", sources[name], _environment(config, tool))
    listing = next(t for t in config["tools"] if t["name"] == "ledger.list")
    transactions = next(t for t in config["tools"] if t["name"] == "transaction.list")
    keep = listing["filter_items"]["keep"]
    rules["filter"] = ("demo: ledger.list filter_items", keep, _environment(config, listing))
    rules["five"] = ("5 clauses, 50 groups, 20 claims", FIVE_CLAUSES, _environment(config, transactions))
    rules["glob"] = ("glob, 2 patterns", GLOB_RULE, _environment(config, transactions))
    rules["cidr"] = ("CIDR, IPv4, 2 networks", CIDR_RULE, _environment(config, transactions))
    return list(rules.values())


def _time_us(program: Program, activation: dict[str, Any], repeat: int) -> float:
    loops, elapsed = 1, 0.0
    while elapsed < 0.05:  # calibrate: about 50 ms per timed run
        loops *= 4
        start = time.perf_counter()
        for _ in range(loops):
            program.evaluate(activation)
        elapsed = time.perf_counter() - start
    best = elapsed / loops
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(loops):
            program.evaluate(activation)
        best = min(best, (time.perf_counter() - start) / loops)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    activation = _activation()
    rows: list[dict[str, Any]] = []
    for name, source, env in _rules(config):
        row: dict[str, Any] = {"rule": name, "source": source}
        for engine in ENGINES:
            program, issues = compile_rule(source, env, engine)
            assert program is not None, issues
            row[f"{engine}_result"] = program.evaluate(activation)
            row[f"{engine}_us"] = round(_time_us(program, activation, args.repeat), 2)
        assert row["compiled_result"] == row["cel-python_result"], name
        row["speedup"] = round(row["cel-python_us"] / row["compiled_us"], 1)
        rows.append(row)
    width = max(len(row["rule"]) for row in rows)
    print(f"{'rule':<{width}}  {'cel-python µs':>13}  {'compiled µs':>11}  {'speedup':>7}")
    for row in rows:
        print(
            f"{row['rule']:<{width}}  {row['cel-python_us']:>13.1f}  {row['compiled_us']:>11.2f}"
            f"  {row['speedup']:>6.0f}x"
        )
    worst = max(row["compiled_us"] for row in rows)
    slowest_ratio = min(row["speedup"] for row in rows)
    print(f"\nslowest compiled rule: {worst:.2f} µs (target ≤ {TARGET_US:.0f} µs)")
    print(f"smallest speed-up: {slowest_ratio:.0f}x (target ≥ {TARGET_SPEEDUP:.0f}x)")
    RESULTS.write_text(
        json.dumps(
            {
                "python": platform.python_version(),
                "machine": platform.machine(),
                "rules": rows,
                "max_compiled_us": worst,
                "min_speedup": slowest_ratio,
                "targets_met": worst <= TARGET_US and slowest_ratio >= TARGET_SPEEDUP,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
