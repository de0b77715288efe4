"""The member view at organization scale against the limits of the API: one run, every
figure measured in it.

    python -m bench.bench_members            # 10,000 accounts x 17 regions (about 20 minutes)
    python -m bench.bench_members --accounts 1000   # the previous round's world
    python -m bench.bench_members --quick    # 30 accounts x 3 regions, to check the script

Run it from the repository root, as a module (no sys.path edits: the working directory
is where `scanner`, `reports`, `simulator` and `bench` are imported from).

It builds the member-view organization (simulator.generate.member_world: every account
with the member role but a few, ACCOUNT analyzers in all, half or none of the regions, some
accounts SUSPENDED), serves it from a separate process (so the simulator's CPU is not
charged to the scanner), with 40-250 ms per Access Analyzer call depending on the region,
10 requests per second per region, and STS at 60 ms a call (jitter 25%) and 20 requests per
second. AWS's own STS quota is higher than that, and AWS counts a member account's
ListAnalyzers against that account's own quota, while the simulator limits a region across
all accounts: both make this world slower than AWS would be, never faster.

It runs `aa-scan --member-accounts all` and measures:

- the scan phase (after discovery: the organization scan and the member view, which run
  together) against the lower bound the world allows: the larger of the AssumeRole calls
  over STS's rate and, per region, its calls (every examined account's ListAnalyzers and the
  organization scan's own) over the region's rate, each after its initial burst; plus the
  latency chain every account goes through: ListAccounts (timed here), one AssumeRole and
  one ListAnalyzers of the slowest region;
- that every cell of the member view is what the world holds (no ERROR but the accounts
  without the role);
- peak RSS, the most threads the aa-scan process ran at once and the most sockets it held
  open at once (its connections; both sampled from /proc every 50 ms), the calls per
  operation and the throttles received.

Results are printed and written to bench/results/members.json (members-quick.json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from bench.bench_scan import World
from simulator.generate import MEMBER_ROLE, expected_member_cells, member_world
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]

STS_RATE = 20.0
STS_LATENCY_MS = 60.0
REGION_RATE = 10.0


def peak_threads(pid: int, stop: threading.Event, seen: list[int],
                 sockets: list[int] | None = None) -> None:
    """Sample the process's thread count (and, into `sockets`, its open sockets: the
    connections it holds) every 50 ms until `stop`."""
    path = Path(f"/proc/{pid}/status")
    descriptors = Path(f"/proc/{pid}/fd")
    while not stop.is_set():
        try:
            for line in path.read_text().splitlines():
                if line.startswith("Threads:"):
                    seen.append(int(line.split()[1]))
            if sockets is not None:
                open_now = 0
                for fd in descriptors.iterdir():
                    with suppress(OSError):
                        open_now += os.readlink(fd).startswith("socket:")
                sockets.append(open_now)
        except OSError:
            return
        stop.wait(0.05)


def run_members(world: World, out: Path, *args: str) -> dict[str, Any]:
    """aa-scan --member-accounts all as its own process: wall, peak RSS, threads, sockets."""
    world.stats(reset=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run_scan.py"), "--output-dir", str(out), "--log-file", "",
         "--format", "json", "--no-history", "--member-accounts", "all",
         "--member-role-name", MEMBER_ROLE, *args],
        cwd=out.parent, env=world.process_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    stop, threads, sockets = threading.Event(), [0], [0]
    sampler = threading.Thread(target=peak_threads, args=(process.pid, stop, threads, sockets))
    sampler.start()
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    stop.set()
    sampler.join()
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"aa-scan exited {code}:\n{stderr[-2000:]}")
    document = json.loads((out / "scan.json").read_text())
    return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024, "threads": max(threads),
            "sockets": max(sockets),
            "cpu_seconds": usage.ru_utime + usage.ru_stime, "document": document,
            "stats": world.stats()}


def member_cells(document: dict[str, Any]) -> dict[str, Any]:
    """Each account's member-view cells (region -> PASS/FAIL/...), or its status if not assessed."""
    return {a["account_id"]: a["regions"] if a["status"] == "ASSESSED" else a["status"]
            for a in document["member_view"]["accounts"]}


def list_accounts_seconds(world: World) -> float:
    """ListAccounts, every page, as the member view reads it (from the scanning account)."""
    client = world.client("organizations", "us-east-1")
    started = time.perf_counter()
    for _ in client.get_paginator("list_accounts").paginate():
        pass
    return time.perf_counter() - started


def lower_bound(document: dict[str, Any], stats: dict[str, Any], list_accounts: float
                ) -> dict[str, Any]:
    """See the module docstring. AssumeRole calls are those the view needs: one per active
    account it does not already hold credentials for (the scanning account's own); region
    calls are the ListAnalyzers of every account with the role plus the organization scan's
    calls there, as the simulator counted them (its minimum: 4 a region with no finding)."""
    scenario = load_scenario(document)
    expected = expected_member_cells(document)
    active = [a for a, v in expected.items() if v != "SUSPENDED"]
    examined = [a for a, v in expected.items() if isinstance(v, dict)]
    assumes = len([a for a in active if a != scenario.scanner_account])
    sts = scenario.sts_conditions
    sts_seconds = max(0.0, assumes - (sts.burst or 0)) / (sts.rate_limit or float("inf"))
    regions = {}
    for region in scenario.enabled_regions:
        conditions = scenario.conditions_for(region)
        organization_calls = 4
        calls = len(examined) + organization_calls
        rate_seconds = max(0.0, calls - (conditions.burst or 0)) / (
            conditions.rate_limit or float("inf"))
        regions[region] = {"calls": calls, "rate_seconds": rate_seconds,
                           "latency": conditions.latency_ms / 1000}
    worst = max(regions, key=lambda r: regions[r]["rate_seconds"])
    slowest = max(r["latency"] for r in regions.values())
    chain = list_accounts + sts.latency_ms / 1000 + slowest
    by_rate = max(sts_seconds, regions[worst]["rate_seconds"])
    return {"seconds": by_rate + chain, "by_rate": by_rate,
            "bounded_by": "sts" if sts_seconds >= regions[worst]["rate_seconds"] else worst,
            "sts_seconds": sts_seconds, "assume_role_calls": assumes,
            "region_seconds": regions[worst]["rate_seconds"], "region_calls": regions[worst][
                "calls"], "chain_seconds": chain, "list_accounts_seconds": list_accounts,
            "stats_calls": stats["total_calls"]}


def main() -> int:
    """Build and serve the world, run aa-scan once, measure, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 accounts x 3 regions")
    parser.add_argument("--accounts", type=int)
    parser.add_argument("--regions", type=int)
    parser.add_argument("--workers", type=int, help="aa-scan --workers (default: its own)")
    parser.add_argument("--region-rate", type=float, default=REGION_RATE,
                        help=f"requests per second per region (default {REGION_RATE:g})")
    parser.add_argument("--sts-rate", type=float, default=STS_RATE,
                        help=f"STS requests per second (default {STS_RATE:g})")
    parser.add_argument("--name", default=None, help="results file name (default: members)")
    args = parser.parse_args()
    accounts = args.accounts or (30 if args.quick else 10_000)
    regions = args.regions or (3 if args.quick else 17)
    document = member_world(accounts=accounts, regions=regions, rate_limit=args.region_rate,
                            sts_rate_limit=args.sts_rate, sts_latency_ms=STS_LATENCY_MS)
    folder = Path(tempfile.mkdtemp(prefix="aa-scan-bench-members-"))
    print(f"world: {accounts} accounts x {regions} regions, regions at "
          f"{args.region_rate:g} rps, STS at {args.sts_rate:g} rps; output in {folder}",
          flush=True)
    started = time.perf_counter()
    world = World(document, folder, "members")
    print(f"world served in {time.perf_counter() - started:.1f} s", flush=True)
    try:
        list_accounts = list_accounts_seconds(world)
        extra = ("--workers", str(args.workers)) if args.workers else ()
        run = run_members(world, folder / "run", *extra)
    finally:
        world.stop()
    result = run["document"]
    timings = result["timings"]
    stats = run["stats"]
    bound = lower_bound(document, stats, list_accounts)
    cells = member_cells(result)
    expected = expected_member_cells(document)
    wrong = {a: (cells.get(a), v) for a, v in expected.items() if cells.get(a) != v}
    errors: dict[str, int] = {}
    for account in result["member_view"]["accounts"]:
        if account["error"]:
            errors[account["error"]["code"]] = errors.get(account["error"]["code"], 0) + 1
    operations = stats["operations"]
    throttles = stats["throttles"]
    member_seconds = timings["regions_seconds"]
    results = {
        "world": {"accounts": accounts, "regions": regions, "region_rate": args.region_rate,
                  "sts_rate": args.sts_rate, "sts_latency_ms": STS_LATENCY_MS},
        "lower_bound": bound,
        "scan_phase_seconds": member_seconds,
        "discovery_seconds": timings["discovery_seconds"],
        "ratio_to_bound": member_seconds / bound["seconds"],
        "wall_seconds": run["wall"],
        "cpu_seconds": run["cpu_seconds"],
        "peak_rss_mb": run["rss_mb"],
        "peak_threads": run["threads"],
        "peak_sockets": run["sockets"],
        "cells_wrong": len(wrong),
        "wrong_examples": dict(list(wrong.items())[:5]),
        "account_errors": errors,
        "summary": result["member_view"]["summary"],
        "assume_role_calls": operations.get("sts:AssumeRole", 0),
        "list_analyzers_calls": operations.get("access-analyzer:ListAnalyzers", 0),
        "api_calls": operations,
        "throttles_sts": throttles.get("sts", 0),
        "throttles_regions": sum(v for k, v in throttles.items() if k != "sts"),
    }
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = args.name or ("members-quick" if args.quick else "members")
    (out / f"{name}.json").write_text(
        json.dumps(results, indent=2, default=str) + "\n")
    print_summary(results)
    return 0 if not wrong else 1


def print_summary(r: dict[str, Any]) -> None:
    """The results as a table on stdout."""
    bound = r["lower_bound"]
    rows = [
        ("lower bound", f"{bound['seconds']:.2f} s (bounded by {bound['bounded_by']}) = "
         f"max(STS {bound['assume_role_calls']} AssumeRole: {bound['sts_seconds']:.2f} s, "
         f"{bound['region_calls']} calls a region: "
         f"{bound['region_seconds']:.2f} s) + chain {bound['chain_seconds']:.2f} s "
         f"(ListAccounts {bound['list_accounts_seconds']:.2f} s)"),
        ("scan phase (organization + member view)", f"{r['scan_phase_seconds']:.2f} s "
         f"(discovery {r['discovery_seconds']:.2f} s before it)"),
        ("  ratio to the bound", f"{r['ratio_to_bound']:.2f}  (target <= 1.2)"),
        ("cells", "all right" if not r["cells_wrong"] else
         f"{r['cells_wrong']} WRONG, e.g. {r['wrong_examples']}"),
        ("member view summary", f"{r['summary']}; account errors {r['account_errors']}"),
        ("peak RSS", f"{r['peak_rss_mb']:.0f} MB  (target < 1 GB)"),
        ("peak threads", f"{r['peak_threads']}"),
        ("peak open sockets (connections)", f"{r['peak_sockets']}"),
        ("aa-scan CPU", f"{r['cpu_seconds']:.2f} s"),
        ("calls", f"AssumeRole {r['assume_role_calls']}, ListAnalyzers "
         f"{r['list_analyzers_calls']}; all: {r['api_calls']}"),
        ("throttles received", f"STS {r['throttles_sts']}, regions {r['throttles_regions']}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
