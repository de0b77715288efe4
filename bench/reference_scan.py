"""An independent, hand-tuned reference scanner: what a careful engineer writes in an afternoon.

    python bench/reference_scan.py --out findings.json [--workers 64]

Plain boto3 and the standard library, nothing of aa-scan (run it as a script, so it pays for
importing boto3 and nothing else). Against whatever the AWS_* environment points at:

1. account:ListRegions for the enabled regions;
2. per region, ListAnalyzers (ORGANIZATION), and for each such analyzer
   GetFindingsStatistics, to learn which resource types hold findings;
3. one ListFindings stream per resource type that holds findings (filtered server-side by
   status ACTIVE and that type), every stream of every region on one thread pool, paged with
   botocore's paginator, so the pages of a busy region overlap; a region whose statistics
   cannot be read is read as one stream;
4. botocore's standard retry mode with more attempts than its default (it does not pace
   itself: throttles are retried with botocore's own backoff); timestamps kept as the text
   the service sent (no dateutil: the one tuning any profile of such a script asks for);
5. every finding written to one JSON file, with the count per region.

It knows nothing aa-scan knows about the world it scans: no learned rate, no stream plan
from page counts, no priority between regions. It is the yardstick bench/bench_heavy.py
measures aa-scan against, in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

FIELDS = ("id", "resourceType", "resource", "resourceOwnerAccount", "principal", "action",
          "condition", "isPublic", "status", "createdAt", "updatedAt", "analyzedAt", "error")


def make_session() -> boto3.Session:
    """A boto3 session whose parser keeps timestamps as text."""
    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=lambda value: value)
    return boto3.Session(botocore_session=core)


def enabled_regions(session: boto3.Session, config: Config) -> list[str]:
    """The regions account:ListRegions says are enabled."""
    client = session.client("account", config=config)
    regions: list[str] = []
    for page in client.get_paginator("list_regions").paginate(
            RegionOptStatusContains=["ENABLED", "ENABLED_BY_DEFAULT"]):
        regions += [r["RegionName"] for r in page["Regions"]]
    return sorted(regions)


class Scanner:
    """Every region's organization analyzer and its active findings, on one thread pool."""

    def __init__(self, session: boto3.Session, regions: list[str], workers: int,
                 attempts: int, mode: str) -> None:
        config = Config(retries={"mode": mode, "max_attempts": attempts},
                        max_pool_connections=workers, read_timeout=30, connect_timeout=5)
        # Clients are made here, on one thread, and shared by the workers.
        self.clients = {r: session.client("accessanalyzer", region_name=r, config=config)
                        for r in regions}
        self.pool = ThreadPoolExecutor(workers)
        self.lock = threading.Lock()
        self.findings: dict[str, list[dict[str, Any]]] = {r: [] for r in regions}
        self.errors: list[str] = []
        self.outstanding: list[Future[None]] = []

    def submit(self, fn: Any, *args: Any) -> None:
        with self.lock:
            self.outstanding.append(self.pool.submit(fn, *args))

    def region(self, region: str) -> None:
        client = self.clients[region]
        try:
            analyzers = [a for page in client.get_paginator("list_analyzers").paginate(
                type="ORGANIZATION") for a in page["analyzers"] if a["status"] == "ACTIVE"]
        except Exception as exc:  # a script's error handling: note it, go on
            self.error(region, "ListAnalyzers", exc)
            return
        for analyzer in analyzers:
            types: list[str | None] = [None]
            try:
                statistics = client.get_findings_statistics(analyzerArn=analyzer["arn"])
                by_type = {t: s for entry in statistics["findingsStatistics"]
                           for t, s in entry.get("externalAccessFindingsStatistics", {}).get(
                               "resourceTypeStatistics", {}).items()}
                held = [t for t, s in by_type.items()
                        if s.get("totalActivePublic", 0) + s.get("totalActiveCrossAccount", 0)
                        + s.get("totalActiveErrors", 0)]
                types = list(held) if held else [None]
            except Exception as exc:
                self.error(region, "GetFindingsStatistics", exc)
            for resource_type in types:
                self.submit(self.stream, region, analyzer["arn"], resource_type)

    def stream(self, region: str, analyzer_arn: str, resource_type: str | None) -> None:
        criteria: dict[str, Any] = {"status": {"eq": ["ACTIVE"]}}
        if resource_type is not None:
            criteria["resourceType"] = {"eq": [resource_type]}
        read: list[dict[str, Any]] = []
        try:
            for page in self.clients[region].get_paginator("list_findings").paginate(
                    analyzerArn=analyzer_arn, filter=criteria,
                    PaginationConfig={"PageSize": 100}):
                read += [{k: f.get(k) for k in FIELDS} | {"region": region}
                         for f in page["findings"]]
        except Exception as exc:
            self.error(region, f"ListFindings {resource_type or 'all'}", exc)
        with self.lock:
            self.findings[region] += read

    def error(self, region: str, call: str, exc: Exception) -> None:
        with self.lock:
            self.errors.append(f"{region}: {call}: {type(exc).__name__}: {exc}")

    def run(self) -> None:
        for region in self.clients:
            self.submit(self.region, region)
        while True:  # streams are submitted by region tasks: wait until none is left
            with self.lock:
                pending = [f for f in self.outstanding if not f.done()]
                if not pending:
                    break
            pending[0].result()
        self.pool.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--attempts", type=int, default=20)
    parser.add_argument("--mode", default="standard", choices=("standard", "adaptive"))
    args = parser.parse_args()
    started = time.time()
    session = make_session()
    regions = enabled_regions(session, Config(retries={"mode": "standard",
                                                       "max_attempts": args.attempts}))
    scanner = Scanner(session, regions, args.workers, args.attempts, args.mode)
    scanner.run()
    scanned = time.time()
    document = {
        "started": started, "finished": time.time(), "regions": regions,
        "counts": {r: len(f) for r, f in scanner.findings.items()},
        "errors": scanner.errors,
        "findings": [f for r in regions for f in scanner.findings[r]],
    }
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=1)
    print(f"scan {scanned - started:.2f}s, write {time.time() - scanned:.2f}s", file=sys.stderr)
    print(json.dumps({"findings": len(document["findings"]), "errors": len(scanner.errors)}))
    return 1 if scanner.errors else 0


if __name__ == "__main__":
    sys.exit(main())
