"""aa-scan against the speed limit of the API: one run, every figure measured in it.

    python -m bench.bench_scan            # 30 regions, 400 accounts, 100,000 findings
    python -m bench.bench_scan --quick    # a small world, to check the script itself

Run it from the repository root, as a module (no sys.path edits: the working directory
is where `scanner`, `reports`, `simulator` and `bench` are imported from).

It builds the large simulated organization (simulator.generate.large_world: the largest
region holds 40% of the findings, 40-250 ms per call depending on the region, about 10
requests per second per region), serves it from a separate process (so the simulator's CPU
is not charged to the scanner), and measures:

- aa-scan's scan phase against the lower bound the world allows: per region, the larger of
  its latency-chained round trips and its calls divided by its rate limit (after the
  initial burst), maximised over regions, plus one discovery round trip; and against the
  machine floor (the same world with no latency and no rate limit, aa-scan's own pacing
  off), with the CPU time the aa-scan process used there;
- a naive reference: one region after another, one page after another, as the AWS CLI
  examples do;
- --coverage-only over all regions;
- the workbook against a bare XlsxWriter dump of the same rows, and the HTML size;
- peak RSS of the whole aa-scan run (reports included), API calls per operation,
  throttles received;
- a burst: one region of 6,000 findings at 40-250 ms a call and no rate limit, scanned as
  is and with its first 5 calls throttled (`throttle_first`), three times each: the ratio
  of the scan phases, and how long the throttled region waited for its first call to get
  through (botocore's backoff before each retry, which no rate limiter shortens), so the
  ratio without that wait shows what the rate limiter costs.

Ratios matter, not absolute times: the machine is shared and noisy. Results are printed and
written to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import yaml

from simulator.generate import large_world
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]

PAGE = 100  # the simulated service's page-size cap, as aa-scan's default page size
BURST_THROTTLED = 5  # calls throttled at the start of the burst region


class World:
    """A world served by `python -m simulator serve` in its own process."""

    def __init__(self, document: dict[str, Any], folder: Path, name: str) -> None:
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        # The service's log goes to a file, and its stdout is read to the end: a pipe left
        # unread fills (waitress warns of its task queue's depth at every burst of a large
        # world) and then stops the service in the middle of a run.
        log = folder / f"{name}-simulator.log"
        with log.open("w") as errors:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "simulator", "serve", str(path)], cwd=ROOT,
                stdout=subprocess.PIPE, stderr=errors, text=True)
        self.env: dict[str, str] = {}
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = re.match(r"export (\w+)=(.*)", line.strip())
            if match:
                self.env[match.group(1)] = match.group(2).strip("'")
            if line.startswith("# call statistics"):
                break
        if "AWS_ENDPOINT_URL" not in self.env:
            raise SystemExit(f"the simulator did not start: {log.read_text()[-3000:]}")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        self.url = self.env["AWS_ENDPOINT_URL"]

    def stats(self, reset: bool = False) -> dict[str, Any]:
        """The simulator's call statistics (reset them with `reset`)."""
        request = urllib.request.Request(f"{self.url}/_sim/stats",
                                         method="DELETE" if reset else "GET")
        with urllib.request.urlopen(request, timeout=30) as response:
            result: dict[str, Any] = json.load(response)
            return result

    def process_env(self) -> dict[str, str]:
        """An environment for a child process that points boto3 at this world only."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.env)
        env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
        return env

    def client(self, service: str, region: str) -> Any:
        """A boto3 client of this world."""
        return boto3.session.Session().client(
            service, region_name=region, endpoint_url=self.url,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=self.env["AWS_SESSION_TOKEN"])

    def stop(self) -> None:
        """Stop the simulator's process."""
        self.process.terminate()
        self.process.wait(timeout=30)


def run_aa_scan(world: World, out: Path, *args: str) -> dict[str, Any]:
    """aa-scan as its own process: wall time, peak RSS, its document and report timings."""
    world.stats(reset=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run_scan.py"), "--output-dir", str(out), "--log-file", "",
         *args], cwd=out.parent, env=world.process_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"aa-scan exited {code}:\n{stderr[-2000:]}")
    document = json.loads((out / "scan.json").read_text())
    writes = {Path(m.group(1)).name: float(m.group(2))
              for m in re.finditer(r"wrote (\S+) \(([\d.]+)s\)", stderr)}
    return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024, "document": document,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "writes": writes, "stats": world.stats(), "out": out}


def naive_scan(world: World, regions: list[str]) -> float:
    """One region after another, one page after another (the AWS CLI documentation's way)."""
    started = time.perf_counter()
    for region in regions:
        client = world.client("accessanalyzer", region)
        for analyzer in client.list_analyzers(type="ORGANIZATION")["analyzers"]:
            client.get_findings_statistics(analyzerArn=analyzer["arn"])
            client.list_archive_rules(analyzerName=analyzer["name"])
            pages = client.get_paginator("list_findings").paginate(
                analyzerArn=analyzer["arn"], filter={"status": {"eq": ["ACTIVE"]}})
            for _ in pages:
                pass
    return time.perf_counter() - started


def rerender_seconds(scan_json: Path, out: Path) -> float:
    """`aa-scan --from-json` of the full run's scan.json, every report, wall seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "run_scan.py"), "--from-json", str(scan_json),
                    "--output-dir", str(out), "--log-file", "", "--fail-on", "never"],
                   cwd=out.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - started


def lower_bound(document: dict[str, Any], discovery_rtt: float) -> dict[str, Any]:
    """What the world allows at best, region by region (see the module docstring).

    Calls: ListAnalyzers, GetFindingsStatistics, ListArchiveRules and one ListFindings per
    full page. Chain: ListAnalyzers -> statistics -> the pages of the largest part the
    documented filters can isolate with known sizes (resource type x isPublic), one after
    another.
    """
    scenario = load_scenario(document)
    regions = {}
    for region in scenario.enabled_regions:
        findings = [f for a in scenario.analyzers if a.region == region for f in a.findings
                    if f["status"] == "ACTIVE"]
        cells = Counter((f["resourceType"], bool(f["isPublic"])) for f in findings)
        largest = max(cells.values(), default=0)
        conditions = scenario.conditions_for(region)
        latency = conditions.latency_ms / 1000
        calls = 3 + math.ceil(len(findings) / PAGE)
        chain = 2 + max(1, math.ceil(largest / PAGE))
        rate = conditions.rate_limit or math.inf
        burst = conditions.burst or 0
        by_rate = max(0.0, calls - burst) / rate
        regions[region] = {"findings": len(findings), "calls": calls,
                           "chain_seconds": chain * latency, "rate_seconds": by_rate,
                           "bound": max(chain * latency, by_rate)}
    worst = max(regions, key=lambda r: regions[r]["bound"])
    return {"seconds": regions[worst]["bound"] + discovery_rtt, "region": worst,
            "regions": regions, "discovery_rtt": discovery_rtt,
            "minimum_calls": sum(r["calls"] for r in regions.values())}


def burst_documents(findings: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One region at 40-250 ms a call and no rate limit: as is, and throttling its first calls."""
    plain = large_world(regions=1, accounts=20, findings=findings)
    region = next(iter(plain["conditions"]))
    plain["conditions"] = {region: {"latency_ms": 145, "jitter_ms": 105}}
    burst = copy.deepcopy(plain)
    burst["conditions"][region]["throttle_first"] = BURST_THROTTLED
    return plain, burst


def burst_ratio(folder: Path, findings: int, runs: int) -> dict[str, Any]:
    """The burst region against the same region without the burst, `runs` pairs of scans.

    The burst world starts afresh for each run, as its first calls are throttled once per
    world; the figures are those of the pair with the median ratio.
    """
    plain_document, burst_document = burst_documents(findings)
    region = next(iter(plain_document["conditions"]))
    pairs = []
    plain_world = World(plain_document, folder, "burst-plain")
    try:
        for run in range(runs):
            plain = run_aa_scan(plain_world, folder / f"burst-plain-{run}", "--format", "json")
            burst_world = World(burst_document, folder, "burst")
            try:
                burst = run_aa_scan(burst_world, folder / f"burst-{run}", "--format", "json")
            finally:
                burst_world.stop()
            plain_seconds = plain["document"]["timings"]["scan_seconds"]
            burst_seconds = burst["document"]["timings"]["scan_seconds"]
            waited = burst["stats"]["seconds_to_first_unthrottled"].get(region, 0.0)
            pairs.append({
                "plain_seconds": plain_seconds,
                "burst_seconds": burst_seconds,
                "ratio": burst_seconds / plain_seconds,
                "first_call_wait_seconds": waited,
                "ratio_without_wait": (burst_seconds - waited) / plain_seconds,
                "throttles": sum(burst["stats"]["throttles"].values()),
                "counts_exact": all(len(r["document"]["findings"]) == findings
                                    and r["document"]["summary"]["complete"]
                                    for r in (plain, burst)),
            })
            print(f"burst run {run + 1}/{runs}: {plain_seconds:.2f} s / {burst_seconds:.2f} s, "
                  f"first call through after {waited:.2f} s", flush=True)
    finally:
        plain_world.stop()
    median = statistics.median_low(pair["ratio"] for pair in pairs)
    chosen = next(pair for pair in pairs if pair["ratio"] == median)
    return {**chosen, "findings": findings, "runs": pairs}


def bare_workbook_ratio(scan_json: Path) -> dict[str, Any]:
    """The workbook writer against a bare XlsxWriter dump of the same rows, same process."""
    from bench.bench_workbook import compare

    result: dict[str, Any] = compare(json.loads(scan_json.read_text()))
    return result


def main() -> int:
    """Build the worlds, run every measure, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small world (smoke test)")
    parser.add_argument("--skip-naive", action="store_true", help="skip the slow reference")
    args = parser.parse_args()
    size = dict(regions=6, accounts=20, findings=5_000) if args.quick else dict(
        regions=30, accounts=400, findings=100_000)
    document = large_world(**size)
    floor_document = copy.deepcopy(document)
    floor_document["conditions"] = {}
    folder = Path(tempfile.mkdtemp(prefix="aa-scan-bench-"))
    results: dict[str, Any] = {"world": size, "cpu_count": os.cpu_count()}
    print(f"world: {size['regions']} regions, {size['accounts']} accounts, "
          f"{size['findings']:,} findings; output in {folder}", flush=True)

    world = World(document, folder, "world")
    try:
        sts = world.client("sts", "us-east-1")
        sts.get_caller_identity()
        started = time.perf_counter()
        sts.get_caller_identity()
        discovery_rtt = time.perf_counter() - started
        bound = lower_bound(document, discovery_rtt)
        unrecorded = run_aa_scan(world, folder / "unrecorded", "--no-history")
        full = run_aa_scan(world, folder / "full")  # recorded in folder/output/history.sqlite
        coverage = run_aa_scan(world, folder / "coverage", "--coverage-only", "--format", "json",
                               "--no-history")
        regions = [r["region"] for r in full["document"]["regions"]]
        naive = None if args.skip_naive else naive_scan(world, regions)
    finally:
        world.stop()
    floor_world = World(floor_document, folder, "floor")
    # The floor measures the machine, so aa-scan's own pacing (which starts at 10 requests
    # per second per region and grows while the service accepts more) is switched off.
    unpaced = folder / "unpaced.yaml"
    unpaced.write_text("aws: {rate_limit: off}\n")
    try:
        floor = run_aa_scan(floor_world, folder / "floor", "--format", "json", "--config",
                            str(unpaced))
    finally:
        floor_world.stop()
    burst = burst_ratio(folder, 2_000 if args.quick else 6_000, 1 if args.quick else 3)

    rerender = rerender_seconds(full["out"] / "scan.json", folder / "rerendered")
    scan_seconds = full["document"]["timings"]["scan_seconds"]
    floor_seconds = floor["document"]["timings"]["scan_seconds"]
    reference = max(bound["seconds"], floor_seconds)
    operations: Counter[str] = Counter()
    for ops in full["stats"]["calls"].get("access-analyzer", {}).values():
        operations.update(ops)
    calls = sum(operations.values())
    throttles = sum(full["stats"]["throttles"].values())
    slowest_rtt = max((c.get("latency_ms", 0) + c.get("jitter_ms", 0)) / 1000
                      for c in document["conditions"].values())
    coverage_timings = coverage["document"]["timings"]
    coverage_target = 2 * slowest_rtt + coverage_timings["discovery_seconds"]
    html = full["out"] / "report.html"
    workbook = bare_workbook_ratio(full["out"] / "scan.json")
    results.update({
        "lower_bound": {k: v for k, v in bound.items() if k != "regions"},
        "lower_bound_regions": bound["regions"],
        "scan_seconds": scan_seconds,
        "machine_floor_seconds": floor_seconds,
        "machine_floor_client_cpu_seconds": floor["cpu_seconds"],
        "ratio_to_bound": scan_seconds / reference,
        "naive_seconds": naive,
        "speedup_over_naive": naive / scan_seconds if naive else None,
        "coverage_only": {"regions_seconds": coverage_timings["regions_seconds"],
                          "discovery_seconds": coverage_timings["discovery_seconds"],
                          "scan_seconds": coverage_timings["scan_seconds"],
                          "target_seconds": coverage_target,
                          "slowest_round_trip": slowest_rtt},
        "report_seconds": full["writes"],
        "workbook": workbook,
        "html_bytes": html.stat().st_size if html.exists() else None,
        "peak_rss_mb": full["rss_mb"],
        "api_calls": dict(operations),
        "api_calls_total": calls,
        "minimum_calls": bound["minimum_calls"],
        "throttles": throttles,
        "throttle_share": throttles / calls if calls else 0.0,
        "whole_run_seconds": full["wall"],
        "rerender_seconds": rerender,
        "whole_run_without_history_seconds": unrecorded["wall"],
        "history_ratio": full["wall"] / unrecorded["wall"],
        "burst": burst,
    })
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / ("quick.json" if args.quick else "latest.json")).write_text(
        json.dumps(results, indent=2, default=str) + "\n")
    print_summary(results)
    return 0


def print_summary(r: dict[str, Any]) -> None:
    """The results as a table on stdout."""
    bound = r["lower_bound"]
    burst = r["burst"]
    counts = "exact" if burst["counts_exact"] else "NOT EXACT"
    cov = r["coverage_only"]
    wb = r["workbook"]
    rows = [
        ("lower bound (scan phase)", f"{bound['seconds']:.2f} s  (bounded by {bound['region']})"),
        ("machine floor (no latency, no limits)", f"{r['machine_floor_seconds']:.2f} s  "
         f"(aa-scan process CPU: {r['machine_floor_client_cpu_seconds']:.2f} s)"),
        ("aa-scan scan phase", f"{r['scan_seconds']:.2f} s"),
        ("  ratio to max(bound, floor)", f"{r['ratio_to_bound']:.2f}  (target <= 1.25)"),
    ]
    if r["naive_seconds"]:
        rows += [("naive reference (sequential)", f"{r['naive_seconds']:.2f} s"),
                 ("  aa-scan speed-up", f"{r['speedup_over_naive']:.1f}x")]
    rows += [
        ("--coverage-only regions phase", f"{cov['regions_seconds']:.2f} s  (+ discovery "
         f"{cov['discovery_seconds']:.2f} s; target <= {cov['target_seconds']:.2f} s)"),
        ("workbook / bare XlsxWriter dump", f"{wb['workbook_seconds']:.2f} s / "
         f"{wb['bare_seconds']:.2f} s = {wb['ratio']:.2f}  (target <= 1.5)"),
        ("report.html size", f"{(r['html_bytes'] or 0) / 1e6:.2f} MB  (target <= 5 MB)"),
        ("peak RSS, whole run", f"{r['peak_rss_mb']:.0f} MB  (target <= 600 MB)"),
        ("--from-json re-render, every report", f"{r['rerender_seconds']:.2f} s"),
        ("whole run with / without the history", f"{r['whole_run_seconds']:.2f} s / "
         f"{r['whole_run_without_history_seconds']:.2f} s = {r['history_ratio']:.2f}  "
         "(target <= 1.25)"),
        ("API calls (minimum the pages need)", f"{r['api_calls_total']} "
         f"({r['minimum_calls']}): {r['api_calls']}"),
        ("throttles received", f"{r['throttles']} ({100 * r['throttle_share']:.1f}% of calls; "
         "target < 5%)"),
        (f"burst: {burst['findings']:,} findings, first {BURST_THROTTLED} calls throttled",
         f"{burst['burst_seconds']:.2f} s against {burst['plain_seconds']:.2f} s = "
         f"{burst['ratio']:.2f}  (target <= 1.5; median of {len(burst['runs'])}; "
         f"{burst['throttles']} throttles, counts {counts})"),
        ("  wait for the first call to get through", f"{burst['first_call_wait_seconds']:.2f} s "
         f"(botocore's retry backoff); ratio without it {burst['ratio_without_wait']:.2f}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
