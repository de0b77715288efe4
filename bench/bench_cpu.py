"""aa-scan's own CPU per finding against the floor of any botocore client, one run.

    python -m bench.bench_cpu                      # 80,000 findings, 30 regions, no latency
    python -m bench.bench_cpu --findings 20000     # a smaller world
    python -m bench.bench_cpu --latency            # the realistic shape (40-250 ms, 10 rps)
    python -m bench.bench_cpu --repeat 5           # medians of 5 (default 3)

Run it from the repository root, as a module (no sys.path edits: the working directory
is where `scanner`, `reports`, `simulator` and `bench` are imported from).

One generated world (simulator.generate.large_world) is served from its own process, by
default with no latency and no rate limit: the shape where the client's CPU bounds the
scan. In that same run, alternating, it measures with os.wait4 (user + system CPU of the
child process):

- the bare botocore loop: one botocore client per region, ListAnalyzers, then
  get_paginator("list_findings").paginate(...) over every ACTIVE finding, 100 per page,
  regions spread over a thread pool; run with botocore's own timestamp parser (dateutil),
  with aa-scan's fast parser, and with no timestamp parsing at all (the strings kept);
  with --latency, standard retries with 20 attempts (it does not pace itself);
- `aa-scan --format json` with `aws: {rate_limit: off}`;
- start-up: `python -c pass`, the imports aa-scan's scan path needs, `run_scan.py --version`.

It prints CPU seconds per 1,000 findings for each (the medians) and aa-scan's ratio to each
bare loop, and writes everything to bench/results/cpu.json. The machine is shared and
noisy: only figures from the same run, as ratios, mean anything.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

BARE_VARIANTS = ("dateutil", "fast", "raw")


# -- the bare loop (its own process: this file run as a script, `--bare-loop VARIANT REGIONS`)
def bare_loop(variant: str, regions: list[str], workers: int, attempts: int | None) -> int:
    """Page every ACTIVE finding of every region; print how many were read."""
    from concurrent.futures import ThreadPoolExecutor

    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    if variant == "fast":
        session.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=fast_timestamp)
    elif variant == "raw":
        session.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=lambda value: value)
    # Against a rate-limited world, more attempts than botocore's default: no pacing here.
    config = Config(retries={"mode": "standard", "max_attempts": attempts}) if attempts else None
    clients = {r: session.create_client("accessanalyzer", region_name=r, config=config)
               for r in regions}

    def region_findings(region: str) -> int:
        client: Any = clients[region]
        count = 0
        for analyzer in client.list_analyzers(type="ORGANIZATION")["analyzers"]:
            pages = client.get_paginator("list_findings").paginate(
                analyzerArn=analyzer["arn"], filter={"status": {"eq": ["ACTIVE"]}},
                PaginationConfig={"PageSize": 100})
            for page in pages:
                count += len(page["findings"])
        return count

    with ThreadPoolExecutor(workers) as pool:
        total = sum(pool.map(region_findings, regions))
    print(json.dumps({"findings": total}))
    return 0


_ISO = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$")


def fast_timestamp(value: Any) -> dt.datetime:
    """scanner.aws.fast_timestamp as of this benchmark's writing, copied so the bare loop
    does not pay for importing aa-scan (boto3, yaml, the configuration) on top of botocore."""
    from botocore.utils import parse_timestamp

    if isinstance(value, str):
        match = _ISO.match(value)
        if match:
            year, month, day, hour, minute, second, fraction, zone = match.groups()
            micro = int((fraction or "0")[:6].ljust(6, "0"))
            tz = dt.UTC
            if zone and zone != "Z":
                sign = 1 if zone[0] == "+" else -1
                digits = zone[1:].replace(":", "")
                tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]),
                                                     minutes=int(digits[2:])))
            with suppress(ValueError):
                return dt.datetime(int(year), int(month), int(day), int(hour), int(minute),
                                   int(second), micro, tzinfo=tz).astimezone(dt.UTC)
    parsed: dt.datetime = parse_timestamp(value)
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# -- measuring child processes -------------------------------------------------------------
def run_child(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run one child; its own CPU from os.wait4 (stdout/stderr to files, never a pipe
    that could fill)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err,
                                   text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "user": usage.ru_utime,
                "system": usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
                "code": process.returncode, "stdout": out.read(), "stderr": err.read()}


def main() -> int:
    """The whole benchmark (or, with --bare-loop, one bare loop in a child process)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=80_000)
    parser.add_argument("--regions", type=int, default=30)
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--latency", action="store_true",
                        help="keep the realistic latency and rate limits (aa-scan paced)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=30, help="threads of the bare loop")
    parser.add_argument("--bare", default=",".join(BARE_VARIANTS),
                        help="bare-loop variants to run: " + ", ".join(BARE_VARIANTS))
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=DIR",
                        help="an aa-scan checkout to measure (repeatable; default: this one); "
                        "every tree's scan.json is compared with the first tree's")
    parser.add_argument("--keep", type=Path, help="keep each aa-scan output folder here")
    parser.add_argument("--py-spy", type=Path, metavar="FILE",
                        help="also record one aa-scan run with py-spy (raw collapsed stacks, "
                        "for bench/profile_breakdown.py)")
    parser.add_argument("--bare-loop", nargs=2, metavar=("VARIANT", "REGIONS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--bare-attempts", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_loop:
        return bare_loop(args.bare_loop[0], args.bare_loop[1].split(","), args.workers,
                         args.bare_attempts)

    from bench.bench_scan import World
    from bench.compare_scan import compare
    from simulator.generate import large_world

    trees = dict(t.split("=", 1) for t in args.tree) or {"aa-scan": str(ROOT)}
    trees = {name: Path(path).resolve() for name, path in trees.items()}
    names = list(trees)
    document = large_world(regions=args.regions, accounts=args.accounts,
                           findings=args.findings)
    if not args.latency:
        document = copy.deepcopy(document)
        document["conditions"] = {}
    regions = list(document["regions"]["universe"])
    variants = [v for v in args.bare.split(",") if v]
    folder = Path(tempfile.mkdtemp(prefix="aa-scan-cpu-"))
    keep = args.keep or folder
    config = folder / "aa-scan.yaml"
    config.write_text("aws: {rate_limit: off}\n" if not args.latency else "{}\n")
    python = sys.executable
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    print(f"world: {args.regions} regions, {args.accounts} accounts, {args.findings:,} "
          f"findings, {'realistic latency' if args.latency else 'no latency, no rate limit'}"
          f"; {args.repeat} rounds; output in {keep}", flush=True)

    samples: dict[str, list[dict[str, Any]]] = {}

    def record(name: str, result: dict[str, Any]) -> dict[str, Any]:
        if result["code"] not in (0, 1):
            raise SystemExit(f"{name} exited {result['code']}:\n{result['stderr'][-3000:]}")
        samples.setdefault(name, []).append(result)
        return result

    def scan_command(tree: Path, out: Path) -> list[str]:
        # The scan path alone: the history's cost is measured by bench_scan and
        # bench_history.
        return [python, str(tree / "run_scan.py"), "--output-dir", str(out), "--log-file", "",
                "--format", "json", "--config", str(config), "--no-history"]

    problems: dict[str, list[str]] = {}
    world = World(document, folder, "world")
    try:
        env = world.process_env()
        # one warm-up call, so the server's first-query caches are not charged to round 1
        warm = world.client("accessanalyzer", regions[0])
        for analyzer in warm.list_analyzers()["analyzers"]:
            for _ in warm.get_paginator("list_findings").paginate(
                    analyzerArn=analyzer["arn"], filter={"status": {"eq": ["ACTIVE"]}}):
                pass
        for round_ in range(args.repeat):
            for name, tree in trees.items():
                tree_env = {**base_env, "PYTHONPATH": str(tree)}
                suffix = f" [{name}]" if len(trees) > 1 else ""
                record(f"python -c pass{suffix}", run_child([python, "-c", "pass"], tree_env,
                                                             tree))
                record(f"import scan path{suffix}", run_child(
                    [python, "-c", "import scanner.cli, scanner.aws, scanner.run, "
                     "scanner.document, scanner.judge, reports.json_report"], tree_env, tree))
                record(f"run_scan.py --version{suffix}", run_child(
                    [python, str(tree / "run_scan.py"), "--version"], tree_env, tree))
            for variant in variants:
                # This file as a script, as before it was a package: its imports are the
                # standard library's, so the bare loop pays for botocore and nothing else.
                result = record(f"bare botocore ({variant})", run_child(
                    [python, str(Path(__file__).resolve()), "--workers", str(args.workers),
                     *(["--bare-attempts", "20"] if args.latency else []),
                     "--bare-loop", variant, ",".join(regions)],
                    {**env, "PYTHONPATH": str(ROOT)}, ROOT))
                result["findings"] = json.loads(result["stdout"])["findings"]
            # the trees take turns going first, so none always runs on the quietest machine
            order = list(trees.items())
            order = order[round_ % len(order):] + order[:round_ % len(order)]
            for name, tree in order:
                out = keep / f"{name}-{round_}"
                result = record(name, run_child(scan_command(tree, out),
                                                {**env, "PYTHONPATH": str(tree)}, folder))
                scan = json.loads((out / "scan.json").read_text())
                result["findings"] = len(scan["findings"])
                result["scan_seconds"] = scan["timings"]["scan_seconds"]
            first = keep / f"{names[0]}-{round_}" / "scan.json"
            for name in names[1:]:
                problems[f"{name} round {round_ + 1}"] = compare(
                    first, keep / f"{name}-{round_}" / "scan.json")
            print(f"  round {round_ + 1}: " + ", ".join(
                f"{k} {v[-1]['cpu']:.2f}s" for k, v in samples.items()
                if "findings" in v[-1]), flush=True)
        if args.py_spy:
            tree = next(iter(trees.values()))
            run_child(["py-spy", "record", "--gil", "-r", "200", "-f", "raw", "-o",
                       str(args.py_spy), "--", *scan_command(tree, folder / "profiled")],
                      {**env, "PYTHONPATH": str(tree)}, folder)
    finally:
        world.stop()

    summary: dict[str, Any] = {}
    for name, runs in samples.items():
        cpu = statistics.median(r["cpu"] for r in runs)
        entry: dict[str, Any] = {
            "cpu_seconds": cpu, "cpu_all": [round(r["cpu"], 3) for r in runs],
            "wall_seconds": statistics.median(r["wall"] for r in runs),
            "rss_mb": max(r["rss_mb"] for r in runs)}
        if "findings" in runs[0]:
            found = {r["findings"] for r in runs}
            entry["findings"] = found.pop() if len(found) == 1 else sorted(found)
            entry["cpu_per_1000"] = 1000 * cpu / max(1, runs[0]["findings"])
        if "scan_seconds" in runs[0]:
            entry["scan_seconds"] = statistics.median(r["scan_seconds"] for r in runs)
        summary[name] = entry
    # Ratios per round, then their median: each pair was measured side by side.
    ratios: dict[str, dict[str, float]] = {}
    for name in names:
        against = [f"bare botocore ({v})" for v in variants] + [n for n in names if n != name]
        for other in against:
            per_round = [a["cpu"] / b["cpu"] for a, b in zip(samples[name], samples[other],
                                                              strict=True)]
            ratios.setdefault(name, {})[other] = statistics.median(per_round)
            summary[name].setdefault("ratios", {})[other] = [round(r, 3) for r in per_round]
    results = {"world": {"findings": args.findings, "regions": args.regions,
                         "accounts": args.accounts, "latency": args.latency},
               "repeat": args.repeat, "cpu_count": os.cpu_count(), "trees":
               {k: str(v) for k, v in trees.items()}, "summary": summary,
               "ratios": ratios, "document_differences": problems}
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "cpu.json").write_text(json.dumps(results, indent=2) + "\n")

    width = max(len(k) for k in summary)
    print(f"{'':<{width}}  {'CPU s':>7}  {'wall s':>7}  {'CPU/1k':>7}  findings")
    for name, entry in summary.items():
        per = f"{entry['cpu_per_1000']:.3f}" if "cpu_per_1000" in entry else ""
        print(f"{name:<{width}}  {entry['cpu_seconds']:7.3f}  {entry['wall_seconds']:7.3f}  "
              f"{per:>7}  {entry.get('findings', '')}")
    print("CPU ratios (median of the per-round ratios):")
    for name, versus in ratios.items():
        print(f"  {name}: " + ", ".join(f"/ {other} {r:.2f}" for other, r in versus.items()))
    for where, differing in problems.items():
        print(f"scan.json of {where} differs from {names[0]}'s:" if differing else
              f"scan.json of {where}: same scan as {names[0]}'s")
        for line in differing[:10]:
            print(f"    {line}")
    return 1 if any(problems.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
