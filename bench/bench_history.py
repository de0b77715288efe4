"""The history at the scale of a large organization: one run, every figure measured in it.

    python -m bench.bench_history            # 100,000 findings a run, 52 runs
    python -m bench.bench_history --quick    # 5,000 findings, 6 runs

Run it from the repository root, as a module: it imports the tests' builders
(tests.builders) as a package from the working directory, with no sys.path edits.

Builds scan documents the way aa-scan does (the real judge and document builder), with a
weekly churn of 1% of the findings (closed and replaced by new ones), and measures:

- recording one run into an empty history, and the database's growth per additional run
  whose findings did not change;
- the diff of two consecutive runs as a scheduled run makes it (baseline read from the
  history, then history.diff.changes);
- the trend over the recorded runs (pandas), and the whole `prepare` a run does (baseline,
  diff, trend, finding age);
- the size of the database after all the runs.

Results are printed and written to bench/results/history.json. Compare ratios across runs of
this script, not seconds across machines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scanner.history.analysis import trend
from scanner.history.diff import changes
from scanner.history.runs import run_view
from scanner.history.store import HistoryStore
from scanner.history.trail import HistorySettings, prepare
from tests.builders import analyzer, finding, make_document, region_scan

ROOT = Path(__file__).resolve().parents[1]

CHURN = 0.01


def findings_of(week: int, count: int) -> list[Any]:
    """The findings of one week: `count`, of which 1% per week are replaced by new ones."""
    churned = int(count * CHURN) * week
    out = []
    for i in range(churned, churned + count):
        out.append(finding(region="us-east-1", id=f"00000000-0000-4000-8000-{i:012d}",
                           resource=f"arn:aws:s3:::bucket-{i}", is_public=i % 7 == 0))
    return out


def document(week: int, count: int) -> dict[str, Any]:
    """The scan document of week `week`: `count` findings in one region, a run a week."""
    started = dt.datetime(2026, 1, 5, tzinfo=dt.UTC) + dt.timedelta(weeks=week)
    found = findings_of(week, count)
    regions = [region_scan("us-east-1", [analyzer()], found)]
    doc = make_document(regions)
    doc["run_id"] = f"week-{week:03d}"
    doc["started_at"] = started.isoformat().replace("+00:00", "Z")
    doc["finished_at"] = (started + dt.timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    return doc


def timed(function: Any, *args: Any) -> tuple[Any, float]:
    """`function(*args)` and its wall seconds."""
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def size(path: Path) -> int:
    """Bytes of the database with its -wal and -shm files."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> int:
    """Record the runs, measure each figure, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count, runs = (5_000, 6) if args.quick else (100_000, 52)
    folder = Path(tempfile.mkdtemp(prefix="aa-scan-history-"))
    path = folder / "history.sqlite"
    print(f"{runs} runs of {count:,} findings, {CHURN:.0%} churn a week; history in {path}",
          flush=True)
    results: dict[str, Any] = {"findings_per_run": count, "runs": runs, "churn": CHURN}

    first = document(0, count)
    with HistoryStore(path) as store:
        _, results["record_first_seconds"] = timed(store.record, first)
    results["size_after_first_bytes"] = size(path)
    # Five runs whose findings did not change, then gone again (they would skew the rest).
    unchanged = [dict(first, run_id=f"unchanged-{i}", started_at=f"2026-01-05T0{i + 1}:00:00Z")
                 for i in range(5)]
    with HistoryStore(path) as store:
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = size(path)
        seconds = [timed(store.record, doc)[1] for doc in unchanged]
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        results["record_unchanged_seconds"] = sorted(seconds)[2]
        results["growth_per_unchanged_run_bytes"] = (size(path) - before) / len(unchanged)
        store._db.execute("DELETE FROM runs WHERE run_id LIKE 'unchanged-%'")

    record_seconds = []
    for week in range(1, runs):
        doc = document(week, count)
        with HistoryStore(path) as store:
            _, seconds = timed(store.record, doc)
        record_seconds.append(seconds)
        print(f"  week {week + 1}/{runs}: recorded in {seconds:.2f} s", flush=True)
    results["record_changed_seconds_median"] = sorted(record_seconds)[len(record_seconds) // 2]

    current = document(runs, count)
    with HistoryStore(path) as store:
        started = time.perf_counter()
        baseline = store.load(store.baseline(current["organization"]["id"],
                                             current["identity"]["account_id"],
                                             current["started_at"]).run_id)
        block = changes(run_view(current), [baseline], "history")
        results["diff_seconds"] = time.perf_counter() - started
        results["diff_counts"] = block["counts"]
        records = store.runs(current["organization"]["id"], current["identity"]["account_id"])
    _, results["trend_seconds"] = timed(trend, records)
    _, results["prepare_seconds"] = timed(prepare, current, HistorySettings(path, None, None))
    with HistoryStore(path) as store:
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    results["size_after_all_bytes"] = size(path)

    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / ("history-quick.json" if args.quick else "history.json")).write_text(
        json.dumps(results, indent=2) + "\n")
    mb = 1024 * 1024
    rows = [
        ("record a first run", f"{results['record_first_seconds']:.2f} s"),
        ("record a run with 1% churn (median)",
         f"{results['record_changed_seconds_median']:.2f} s"),
        ("growth per unchanged run (mean of 5)",
         f"{results['growth_per_unchanged_run_bytes'] / 1024:.1f} KiB"
         f" (recorded in {results['record_unchanged_seconds']:.2f} s, median)"),
        ("diff of two consecutive runs", f"{results['diff_seconds']:.2f} s  (target <= 2 s): "
         f"{results['diff_counts']}"),
        (f"trend over {runs} runs", f"{results['trend_seconds']:.3f} s  (target <= 2 s)"),
        ("a run's whole prepare (baseline, diff, trend, age)",
         f"{results['prepare_seconds']:.2f} s"),
        (f"database after {runs} runs", f"{results['size_after_all_bytes'] / mb:.1f} MiB"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
