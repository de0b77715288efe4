"""Are two scan.json files the same scan? Exits 0 if so, 1 with the differences if not.

    python -m bench.compare_scan before/scan.json after/scan.json

Ignores what legitimately changes from run to run: run_id, started_at, finished_at, timings
and each region's seconds, the order of the findings (pages of a region's streams arrive in
any order) and the order of the types in a region's counts (the same). Everything else must be
equal, key order included; the findings must be the same lines, byte for byte (each finding
is one line of scan.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

VOLATILE = ("started_at", "finished_at", "timings", "run_id")


def finding_lines(text: str) -> list[str]:
    """The findings of a scan.json as its lines (one finding a line), sorted."""
    start = text.index('\n  "findings": [')
    end = text.index("\n  ]", start)
    body = text[start:end].split("\n")[1:]
    return sorted(line.strip().rstrip(",") for line in body if line.strip())


def normalized(document: dict[str, Any]) -> dict[str, Any]:
    """The document without what legitimately changes from run to run, nor its findings."""
    out = {k: v for k, v in document.items() if k not in VOLATILE and k != "findings"}
    # A region's counts list the classic types first, then the others in the order their
    # first finding arrived, which varies from run to run: compared without their order.
    out["regions"] = [{k: (dict(sorted(v.items())) if k == "findings" else v)
                       for k, v in r.items() if k != "seconds"} for r in out["regions"]]
    return out


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two JSON values differ (key order and types included), one line each."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return [f"{where or '/'}: keys {list(a)} != {list(b)}"]
        return [d for k in a for d in differences(a[k], b[k], f"{where}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{where}/{i}")]
    if a != b or type(a) is not type(b):
        return [f"{where}: {a!r} != {b!r}"]
    return []


def compare(before: Path, after: Path) -> list[str]:
    """What differs between two scan.json files (nothing: the same scan)."""
    texts = [before.read_text("utf-8"), after.read_text("utf-8")]
    documents = [json.loads(t) for t in texts]
    problems = differences(normalized(documents[0]), normalized(documents[1]))
    lines = [finding_lines(t) for t in texts]
    if lines[0] != lines[1]:
        only = [set(lines[0]) - set(lines[1]), set(lines[1]) - set(lines[0])]
        problems.append(f"findings differ: {len(lines[0])} vs {len(lines[1])} lines; "
                        f"{len(only[0])} only before, {len(only[1])} only after")
        for label, rest in zip(("before", "after"), only, strict=True):
            problems.extend(f"  {label}: {line[:300]}" for line in sorted(rest)[:3])
    keys = [list(d) for d in documents]
    if keys[0] != keys[1]:
        problems.append(f"top-level keys {keys[0]} != {keys[1]}")
    return problems


def main() -> int:
    """Compare the two files named on the command line."""
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    problems = compare(Path(sys.argv[1]), Path(sys.argv[2]))
    for problem in problems[:40]:
        print(problem)
    if not problems:
        print("same scan")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
