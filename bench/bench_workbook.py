"""Benchmark: report.xlsx for 100,000 findings against a bare XlsxWriter dump of its rows.

    .venv/bin/python -m bench.bench_workbook [--findings 100000] [--document scan.json]
                                             [--repeat 3] [--max-ratio 1.5] [--profile]

The document is the demo's scan (run here unless --document names one) with its findings
replicated under new ids up to --findings, region and summary counts recomputed to match.
The bare dump writes exactly the values of every sheet of the workbook (same sheets, same
rows, datetimes already converted) with the library the workbook is written by, XlsxWriter
in the same constant-memory mode, one plain `write_row` a row: no styles, widths, panes,
filters or sanitising, and its rows are prepared before the clock starts, so the ratio
charges the workbook with its own tabulation too. Best of --repeat runs each; exit status 1
when the ratio is above --max-ratio.

Run it from the repository root, as a module (no sys.path edits: the working directory
is where `scanner`, `reports`, `simulator` and `bench` are imported from).
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import datetime as dt
import gc
import json
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from reports import excel
from reports.document.derive import derive
from reports.excel.writer import FastRows

ROOT = Path(__file__).resolve().parent.parent


def demo_document(workdir: Path) -> dict[str, Any]:
    """The demo's scan.json, scanned here (aa-scan --demo --format json)."""
    # The demo has gaps, so the scan exits non-zero by design: only the document matters.
    subprocess.run([sys.executable, str(ROOT / "run_scan.py"), "--demo", "--format", "json",
                    "--output-dir", str(workdir)], check=False, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    if not (workdir / "scan.json").is_file():
        raise SystemExit("the demo scan wrote no scan.json")
    loaded: dict[str, Any] = json.loads((workdir / "scan.json").read_text("utf-8"))
    return loaded


def scale(document: Mapping[str, Any], count: int) -> dict[str, Any]:
    """The document with `count` findings: the originals replicated under new ids."""
    scaled = copy.deepcopy(dict(document))
    originals = scaled["findings"]
    if not originals:
        raise SystemExit("the document has no findings to replicate")
    findings = []
    for number in range(count):
        finding = dict(originals[number % len(originals)])
        finding["id"] = f"{number:08x}-b3c4-4d5e-8f60-{number:012x}"
        findings.append(finding)
    scaled["findings"] = findings
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for finding in findings:
        if finding["status"] != "ACTIVE":
            continue
        entry = counts.setdefault(finding["region"], {}).setdefault(
            finding["resource_type"], {"active": 0, "public": 0, "cross_account": 0, "errors": 0})
        entry["active"] += 1
        key = "errors" if finding["error"] else "public" if finding["is_public"] else \
            "cross_account"
        entry[key] += 1
    for region in scaled["regions"]:
        if region.get("findings_collected"):
            region["findings"] = {**{t: {"active": 0, "public": 0, "cross_account": 0,
                                         "errors": 0} for t in region["findings"]},
                                  **counts.get(region["region"], {})}
    active = [f for f in findings if f["status"] == "ACTIVE"]
    summary = scaled["summary"]
    summary["active_findings"] = len(active)
    summary["public_findings"] = sum(1 for f in active if f["is_public"] and not f["error"])
    summary["cross_account_findings"] = sum(1 for f in active
                                            if not f["is_public"] and not f["error"])
    return scaled


def plain(value: Any) -> Any:
    """A cell's value as the bare dump writes it: unstyled, datetimes naive UTC."""
    if isinstance(value, excel.Styled):
        value = value.value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def bare_rows(document: Mapping[str, Any]) -> list[tuple[str, list[Sequence[Any]]]]:
    """Every sheet of the workbook as plain values: header, then rows."""
    return [(table.title, [table.headers, *([plain(v) for v in row] for row in
                                            (rows.rows() if isinstance(rows, FastRows)
                                             else rows))])
            for table, rows in excel.sheets(document)]


def bare_dump(sheets: list[tuple[str, list[Sequence[Any]]]], path: Path) -> None:
    """Write the rows with XlsxWriter alone: constant memory, no styles or sanitising."""
    book = xlsxwriter.Workbook(str(path), {
        "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
        "strings_to_numbers": False, "default_date_format": excel.DATE_FORMAT})
    for title, rows in sheets:
        ws = book.add_worksheet(title)
        for index, row in enumerate(rows):
            ws.write_row(index, 0, row)
    book.close()


def best_of(repeat: int, run: Any) -> float:
    """The fastest of `repeat` runs of `run`, in wall seconds."""
    times = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def compare(document: Mapping[str, Any], repeat: int = 1) -> dict[str, Any]:
    """write_workbook against the bare dump of the same rows, in this process, best of N."""
    sheets = bare_rows(document)
    with tempfile.TemporaryDirectory(prefix="bench-workbook-") as temporary:
        workdir = Path(temporary)
        out = workdir / "out"
        bare_path = workdir / "bare.xlsx"
        bare = best_of(repeat, lambda: bare_dump(sheets, bare_path))
        workbook = best_of(repeat, lambda: excel.write_workbook(document, out))
        return {"bare_seconds": bare, "workbook_seconds": workbook, "ratio": workbook / bare,
                "bare_bytes": bare_path.stat().st_size,
                "workbook_bytes": (out / excel.FILE_NAME).stat().st_size,
                "data_rows": sum(len(r) - 1 for _, r in sheets)}


def main(argv: list[str] | None = None) -> int:
    """Scale the document, time both writers, print the ratio (exit 1 above --max-ratio)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--document", type=Path, help="a scan.json to scale (default: demo)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-ratio", type=float, default=1.5)
    parser.add_argument("--profile", action="store_true",
                        help="also profile one write_workbook run (cProfile, top 25)")
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-workbook-") as temporary:
        workdir = Path(temporary)
        base = (json.loads(options.document.read_text("utf-8")) if options.document
                else demo_document(workdir / "demo"))
        document = derive(scale(base, options.findings))  # as the pipeline does, once
        result = compare(document, options.repeat)
        ratio = result["ratio"]
        print(f"document: {len(document['findings']):,} findings, "
              f"{len(document['regions'])} regions; {result['data_rows']:,} data rows")
        print(f"bare XlsxWriter dump:          {result['bare_seconds']:7.2f} s  "
              f"{result['bare_bytes']:>12,} bytes")
        print(f"write_workbook:                {result['workbook_seconds']:7.2f} s  "
              f"{result['workbook_bytes']:>12,} bytes")
        print(f"ratio: {ratio:.2f} (limit {options.max_ratio})")

        if options.profile:
            profiler = cProfile.Profile()
            profiler.runcall(excel.write_workbook, document, workdir / "profile")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return 0 if ratio <= options.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
