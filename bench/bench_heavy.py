"""aa-scan against an independent reference scanner on a findings-heavy world, same run.

    python -m bench.bench_heavy                   # 3 rounds, then 3 re-renders (--from-json)
    python -m bench.bench_heavy --quick           # a small world, to check the script
    python -m bench.bench_heavy --variant 'w96=--workers 96 --no-history'   # more to compare

Run it from the repository root, as a module (no sys.path edits).

The world (built here, independently of simulator.generate.large_world): 30 regions picked
at random, about 80,000 ACTIVE findings spread over them by random weights (the largest
region holds 5%: its calls at 10 requests per second take about 3 s, so the scan is bounded
by the machine's CPU, the client's and the simulator's, more than by one region's rate), a few
ARCHIVED ones beside them, resource types and public shares drawn per region; each region
40-250 ms a call (drawn, jitter 20%) and 10 requests per second (burst 10) before it
throttles. It is served by the simulator in its own process, on the same machine: a 2-core
machine is shared between the client and the service, as a busy CI runner is.

Each round runs, in an order that rotates from round to round so none always goes first:

- reference: bench/reference_scan.py (plain boto3, its own thread pool and retries, about
  200 lines), writing its findings to a JSON file;
- aa-scan, defaults: history on (a history that already holds earlier runs of this world,
  as a scheduled run's does), every default output (scan.json, report.html, report.xlsx,
  manifest.json), the log file;
- aa-scan --no-history: the same without the history;
- each --variant.

Per run: wall seconds (process start to exit), the process's CPU seconds (os.wait4), the
simulator's CPU seconds meanwhile (the service's share of the machine), peak RSS, peak calls
in flight and throttles (the simulator's statistics), and whether every region's count of
distinct ACTIVE findings is exactly what the world holds (the held-out counts, taken from
the scenario, never from a scanner). Ratios are taken per round, then their
median; wall seconds are medians. Then `aa-scan --from-json` of aa-scan's 80,000-finding
scan.json, every report (--rerender times, median).

The machine is shared and noisy: only ratios from the same run mean anything. Results are
printed and written to bench/results/heavy.json (heavy-quick.json).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import sys
import tempfile
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from bench.bench_cpu import run_child
from bench.bench_scan import World
from simulator.scenario import OPT_IN_REGIONS, all_regions, load_scenario

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "bench" / "reference_scan.py"

# Resource types an external-access analyzer reports, each region drawing some of them.
TYPES = ("AWS::S3::Bucket", "AWS::IAM::Role", "AWS::KMS::Key", "AWS::Lambda::Function",
         "AWS::SQS::Queue", "AWS::SecretsManager::Secret", "AWS::SNS::Topic",
         "AWS::ECR::Repository", "AWS::EFS::FileSystem", "AWS::DynamoDB::Table",
         "AWS::RDS::DBSnapshot", "AWS::EC2::Snapshot", "AWS::S3Express::DirectoryBucket")


def heavy_world(regions: int = 30, findings: int = 80_000, accounts: int = 300,
                seed: int = 25) -> dict[str, Any]:
    """The findings-heavy scenario document (see the module docstring)."""
    rng = random.Random(seed)
    universe = sorted(rng.sample(sorted(all_regions()), regions))
    ids = [f"{900000000000 + 7919 * i:012d}" for i in range(accounts)]
    members = [{"id": i, "name": f"acct-{n:03d}"} for n, i in enumerate(ids[1:], start=1)]
    admin = members[0]["id"]
    weights = [0.5 + rng.random() for _ in universe]
    counts = [round(findings * w / sum(weights)) for w in weights]
    counts[0] += findings - sum(counts)
    conditions: dict[str, Any] = {}
    analyzers: list[dict[str, Any]] = []
    for region, count in zip(universe, counts, strict=True):
        latency = round(rng.uniform(40, 250), 1)
        conditions[region] = {"latency_ms": latency, "jitter_ms": round(latency * 0.2, 1),
                              "rate_limit": 10.0, "burst": 10}
        types = rng.sample(TYPES, rng.randint(5, len(TYPES)))
        archived = rng.randint(0, count // 20)
        analyzers.append({
            "name": "org-access", "type": "ORGANIZATION", "region": region, "account": admin,
            "findings": [
                {"generate": {"count": count,
                              "resource_types": {t: rng.randint(1, 10) for t in types},
                              "public_share": round(rng.uniform(0.05, 0.35), 2),
                              "error_share": 0.005, "statuses": {"ACTIVE": 1}}},
                {"generate": {"count": archived, "resource_types": types[:3],
                              "statuses": {"ARCHIVED": 1}}},
            ] if archived else [
                {"generate": {"count": count,
                              "resource_types": {t: rng.randint(1, 10) for t in types},
                              "public_share": round(rng.uniform(0.05, 0.35), 2),
                              "error_share": 0.005, "statuses": {"ACTIVE": 1}}}],
        })
    return {
        "name": f"heavy-{regions}r-{findings}f",
        "description": "bench_heavy: a findings-heavy organization, CPU-bound on 2 cores",
        "seed": seed,
        "organization": {"management_account": {"id": ids[0], "name": "management"},
                         "accounts": members, "trusted_access": True,
                         "delegated_administrator": admin},
        "scanner": {"account": admin, "role_name": "Audit"},
        "regions": {"universe": universe,
                    "opt_in_status": {r: "ENABLED" for r in universe if r in OPT_IN_REGIONS}},
        "conditions": conditions,
        "analyzers": analyzers,
    }


def held_out_counts(document: dict[str, Any]) -> dict[str, int]:
    """ACTIVE findings per region, as the world holds them."""
    scenario = load_scenario(document)
    counts: Counter[str] = Counter()
    for analyzer in scenario.analyzers:
        counts[analyzer.region] += sum(1 for f in analyzer.findings
                                       if f["status"] == "ACTIVE")
    return dict(counts)


def distinct_per_region(findings: list[dict[str, Any]]) -> dict[str, int]:
    """Distinct finding ids per region, as a scanner wrote them."""
    ids: dict[str, set[str]] = {}
    for finding in findings:
        ids.setdefault(finding["region"], set()).add(finding["id"])
    return {region: len(found) for region, found in ids.items()}


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (the simulator's), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    """Build and serve the world, run the rounds, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 regions, 5,000 findings")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rerender", type=int, default=3,
                        help="--from-json runs of aa-scan's scan.json (0: none)")
    # The reference's best pool on this world: 48 threads 13.1 s, 64 11.2 s, 96 8.6 s, 128 8.8 s,
    # 192 9.2 s, 256 9.0 s (medians of 3, one sitting, 2026-12-05).
    parser.add_argument("--reference-workers", type=int, default=128)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                        help="another aa-scan command line to measure (repeatable)")
    parser.add_argument("--keep", type=Path, help="put every run's output here")
    args = parser.parse_args()
    size = (dict(regions=6, findings=5_000, accounts=30) if args.quick
            else dict(regions=30, findings=80_000, accounts=300))
    document = heavy_world(**size)
    expected = held_out_counts(document)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="aa-scan-heavy-"))
    folder.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    largest = max(expected.values())
    # ListAnalyzers, GetFindingsStatistics, ListArchiveRules and the pages, after the burst
    rate_bound = max(0, 3 + -(-largest // 100) - 10) / 10
    print(f"world: {size['regions']} regions, {sum(expected.values()):,} active findings "
          f"(largest region {largest:,}: {rate_bound:.1f} s at its rate), {os.cpu_count()} "
          f"CPUs; output in {folder}", flush=True)

    variants: dict[str, list[str]] = {
        "aa-scan, defaults": [],
        "aa-scan --no-history": ["--no-history"],
    }
    for given in args.variant:
        name, _, line = given.partition("=")
        variants[f"aa-scan {name}"] = shlex.split(line)
    samples: dict[str, list[dict[str, Any]]] = {}
    problems: list[str] = []
    world = World(document, folder, "heavy")
    try:
        env = world.process_env()
        env["PYTHONPATH"] = str(ROOT)

        def reference(tag: str) -> dict[str, Any]:
            out = folder / f"reference-{tag}.json"
            result = run_child([python, str(REFERENCE), "--out", str(out), "--workers",
                                str(args.reference_workers)], env, folder)
            if result["code"] != 0:
                raise SystemExit(f"the reference exited {result['code']}:\n"
                                 f"{result['stderr'][-3000:]}")
            result["counts"] = distinct_per_region(json.loads(out.read_text())["findings"])
            out.unlink()
            return result

        def aa_scan(tag: str, extra: list[str]) -> dict[str, Any]:
            out = folder / f"aa-scan-{tag}"
            result = run_child([python, str(ROOT / "run_scan.py"), "--output-dir", str(out),
                                *extra], env, folder)
            if result["code"] not in (0, 1):
                raise SystemExit(f"aa-scan {' '.join(extra)} exited {result['code']}:\n"
                                 f"{result['stderr'][-3000:]}")
            scan = json.loads((out / "scan.json").read_text())
            result["counts"] = distinct_per_region(scan["findings"])
            totals = {r["region"]: sum(t["active"] for t in r["findings"].values())
                      for r in scan["regions"] if r["findings_collected"]}
            if totals != result["counts"]:
                raise SystemExit(f"aa-scan's region totals disagree with its findings: {totals}")
            result["scan_seconds"] = scan["timings"]["scan_seconds"]
            result["out"] = out
            return result

        def measured(name: str, run: Any) -> None:
            world.stats(reset=True)
            service = process_cpu(world.process.pid)
            result = run()
            result["service_cpu"] = process_cpu(world.process.pid) - service
            stats = world.stats()
            result["peak_in_flight"] = stats["peak_concurrent_requests"]
            result["throttles"] = sum(stats["throttles"].values())
            result["calls"] = stats["total_calls"]
            if result["counts"] != expected:
                wrong = {r: (result["counts"].get(r), n) for r, n in expected.items()
                         if result["counts"].get(r) != n}
                problems.append(f"{name}: counts not exact (got, held out): {wrong}")
            samples.setdefault(name, []).append(result)

        # An unmeasured warm-up: the server's first-query caches, and the history's first
        # run (a scheduled run's history already holds the runs before it).
        aa_scan("warm-up", [])
        runs: list[tuple[str, Any]] = [("reference", reference)] + [
            (name, partial(aa_scan, extra=extra)) for name, extra in variants.items()]
        for round_ in range(args.repeat):
            order = runs[round_ % len(runs):] + runs[:round_ % len(runs)]
            for name, run in order:
                tag = f"{round_}-{len(samples.get(name, []))}-{name.split()[-1].strip('-,')}"
                measured(name, partial(run, tag))
            print(f"  round {round_ + 1}: " + ", ".join(
                f"{n} {s[-1]['wall']:.2f}s" for n, s in samples.items()), flush=True)
    finally:
        world.stop()

    rerenders: list[dict[str, Any]] = []
    source = samples["aa-scan, defaults"][-1]["out"] / "scan.json"
    for run in range(args.rerender):
        out = folder / f"rerender-{run}"
        result = run_child([python, str(ROOT / "run_scan.py"), "--from-json", str(source),
                            "--output-dir", str(out), "--no-history"],
                           {k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
                           folder)
        if result["code"] not in (0, 1, 3):
            raise SystemExit(f"--from-json exited {result['code']}:\n{result['stderr']}")
        rerenders.append(result)
        print(f"  --from-json {run + 1}: {result['wall']:.2f}s", flush=True)

    summary: dict[str, Any] = {}
    base = samples["reference"]
    for name, runs_ in samples.items():
        summary[name] = {
            "wall_seconds": statistics.median(r["wall"] for r in runs_),
            "cpu_seconds": statistics.median(r["cpu"] for r in runs_),
            "service_cpu_seconds": statistics.median(r["service_cpu"] for r in runs_),
            "x_reference": statistics.median(r["wall"] / b["wall"]
                                             for r, b in zip(runs_, base, strict=True)),
            "wall_all": [round(r["wall"], 2) for r in runs_],
            "peak_in_flight": max(r["peak_in_flight"] for r in runs_),
            "throttle_share": max(r["throttles"] / max(1, r["calls"]) for r in runs_),
            "calls": statistics.median(r["calls"] for r in runs_),
            "rss_mb": max(r["rss_mb"] for r in runs_),
        }
        if "scan_seconds" in runs_[0]:
            summary[name]["scan_seconds"] = statistics.median(r["scan_seconds"] for r in runs_)
    history = statistics.median(
        a["wall"] / b["wall"] for a, b in zip(samples["aa-scan, defaults"],
                                              samples["aa-scan --no-history"], strict=True))
    results: dict[str, Any] = {
        "world": {**size, "active_findings": sum(expected.values()),
                  "largest_region_rate_bound_seconds": rate_bound},
        "cpu_count": os.cpu_count(), "repeat": args.repeat, "summary": summary,
        "history_ratio": history, "problems": problems,
        "rerender": {"wall_seconds": statistics.median(r["wall"] for r in rerenders),
                     "cpu_seconds": statistics.median(r["cpu"] for r in rerenders),
                     "rss_mb": max(r["rss_mb"] for r in rerenders),
                     "wall_all": [round(r["wall"], 2) for r in rerenders]}
        if rerenders else None,
    }
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / ("heavy-quick.json" if args.quick else "heavy.json")).write_text(
        json.dumps(results, indent=2) + "\n")

    width = max(len(n) for n in summary)
    print(f"{f'run (median of {args.repeat})':<{width}}  {'wall s':>7}  {'x ref':>6}  "
          f"{'CPU s':>6}  {'service':>7}  {'in flight':>9}  {'throttled':>9}  {'RSS MB':>6}")
    for name, entry in summary.items():
        print(f"{name:<{width}}  {entry['wall_seconds']:7.2f}  {entry['x_reference']:6.2f}  "
              f"{entry['cpu_seconds']:6.2f}  {entry['service_cpu_seconds']:7.2f}  "
              f"{entry['peak_in_flight']:9d}  "
              f"{100 * entry['throttle_share']:8.1f}%  {entry['rss_mb']:6.0f}")
    print(f"history on / off (median of per-round ratios): {history:.2f}")
    if rerenders:
        r = results["rerender"]
        print(f"--from-json of the {sum(expected.values()):,}-finding scan.json, every report: "
              f"{r['wall_seconds']:.2f} s wall, {r['cpu_seconds']:.2f} s CPU (median of "
              f"{len(rerenders)}), {r['rss_mb']:.0f} MB")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("held-out counts: " + ("exact in every run" if not problems else "NOT EXACT"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
