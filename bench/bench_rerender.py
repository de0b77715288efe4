"""Benchmark: `aa-scan --from-json` of a large scan.json, every report, phase by phase.

    .venv/bin/python -m bench.bench_cpu --repeat 1 --bare raw --keep /tmp/cpu
    .venv/bin/python -m bench.bench_rerender /tmp/cpu/aa-scan-0/scan.json

(bench_cpu's world: 80,000 findings, 30 regions, 400 accounts; its aa-scan run writes the
scan.json.) In this process, one after the other: reading the file, json.loads,
validating (compiling the schema included), then each writer (scan.json, report.html,
report.xlsx), with wall and CPU seconds each. Then the whole re-render as a user runs it,
in a child process (`run_scan.py --from-json FILE --no-history --format json,html,xlsx`):
its wall and CPU seconds and peak RSS. The machine is shared and noisy: CPU seconds and
ratios from one run mean more than wall seconds; the load average is printed before and
after.

Run it from the repository root, as a module (no sys.path edits: the working directory
is where `scanner`, `reports`, `simulator` and `bench` are imported from).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reports.document.derive import derive
from reports.document.schema import validate
from reports.formats import OutputFormat, writer_for

ROOT = Path(__file__).resolve().parent.parent


def load() -> str:
    """The machine's load average, for the record (the machine is shared)."""
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def phases(path: Path, out: Path) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of each step of a re-render, in this process."""
    timed: dict[str, tuple[float, float]] = {}

    def step(name: str, run: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        timed[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        return result

    text = step("read", lambda: path.read_text("utf-8"))
    document = step("json.loads", lambda: json.loads(text))
    step("validate", lambda: validate(document))  # compiling the schema included
    document = step("derive", lambda: derive(document))  # as the pipeline does, once
    for output_format in (OutputFormat.JSON, OutputFormat.HTML, OutputFormat.XLSX):
        writer = writer_for(output_format)
        step(f"write {output_format.value}", lambda w=writer: w(document, out))
    return timed


def whole(path: Path, out: Path) -> dict[str, float]:
    """The re-render as a user runs it, in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "run_scan.py"), "--from-json", str(path),
                           "--no-history", "--format", "json,html,xlsx", "--output-dir",
                           str(out), "--log-file", ""], cwd=ROOT, check=False,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1, 3):  # the scan's verdict: the reports are written
        raise SystemExit(f"run_scan.py exited {done.returncode}:\n{done.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall": wall, "cpu": (after.ru_utime - before.ru_utime)
            + (after.ru_stime - before.ru_stime), "rss_mb": after.ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    """Time each step in this process, then the whole re-render in a child."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scan_json", type=Path)
    options = parser.parse_args(argv)
    findings = len(json.loads(options.scan_json.read_text("utf-8"))["findings"])
    print(f"{options.scan_json}: {findings:,} findings; {load()}")
    with tempfile.TemporaryDirectory(prefix="bench-rerender-") as temporary:
        timed = phases(options.scan_json, Path(temporary) / "phases")
        for name, (wall, cpu) in timed.items():
            print(f"  {name:20} wall {wall:6.2f} s  CPU {cpu:6.2f} s")
        print(f"  {'sum':20} wall {sum(w for w, _ in timed.values()):6.2f} s  "
              f"CPU {sum(c for _, c in timed.values()):6.2f} s")
        run = whole(options.scan_json, Path(temporary) / "cli")
        print(f"run_scan.py --from-json, every report: wall {run['wall']:.2f} s, CPU "
              f"{run['cpu']:.2f} s, peak RSS {run['rss_mb']:.0f} MB; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
