"""The tables a scheduled user reads over time: the trend over the recorded runs, and,
computed with pandas, the age of active findings and the time it took to resolve findings.

Imported only where these run (pandas takes about a third of a second to import), and its
results are plain values for scan.json, so no renderer needs pandas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from reports.document.rules import access_of
from reports.document.schema import ScanDocument
from reports.document.trail import FindingAge, OldestPublic, TimeToResolve, TrendPoint

from .store import RunRecord

AGE_BUCKETS = ("under 7 days", "7-30 days", "30-90 days", "over 90 days")
_EDGES = (-math.inf, 7, 30, 90, math.inf)
TREND_RUNS = 52  # a year of weekly runs


def trend(runs: Sequence[RunRecord], limit: int = TREND_RUNS) -> list[TrendPoint]:
    """Covered regions and active / public findings per recorded run, oldest first (the
    last `limit`); runs that were interrupted are left out (their figures are partial)."""
    kept = sorted((r for r in runs if not r.interrupted), key=lambda r: (r.started_at, r.seq))
    return [r.trend_point() for r in (kept[-limit:] if limit else [])]


def _days(frame: pd.DataFrame, start: str, end: str | pd.Timestamp) -> pd.Series:
    begin = pd.to_datetime(frame[start], utc=True, errors="coerce", format="ISO8601")
    finish = (pd.to_datetime(frame[end], utc=True, errors="coerce", format="ISO8601")
              if isinstance(end, str) else end)
    return (finish - begin).dt.total_seconds() / 86400


def finding_age(document: ScanDocument) -> FindingAge | None:
    """Age of the active findings per resource type, the oldest active public finding, and the
    time to resolve from RESOLVED findings. A finding's age runs from Access Analyzer's own
    createdAt, or from the earliest createdAt of its grant when the history carried one over
    an analyzer re-created (`first_seen_at`)."""
    findings = document["findings"]
    if document["summary"]["coverage_only"] or not findings:
        return None
    as_of = pd.Timestamp(document["started_at"])
    # Column by column: a frame built from 100,000 dicts row by row takes several times as
    # long.
    columns = ("region", "id", "resource_type", "resource", "is_public", "error", "status",
               "created_at", "updated_at")
    frame = pd.DataFrame({c: [f[c] for f in findings] for c in columns})  # type: ignore[literal-required]
    frame["since"] = [f.get("first_seen_at") or f["created_at"] for f in findings]
    active = frame[frame["status"] == "ACTIVE"].copy()
    active["age"] = _days(active, "since", as_of)
    active["bucket"] = pd.cut(active["age"], _EDGES, right=False, labels=list(AGE_BUCKETS))
    table = pd.crosstab(active["resource_type"], active["bucket"]).reindex(
        columns=list(AGE_BUCKETS), fill_value=0)
    by_type = {str(t): {str(b): int(n) for b, n in row.items()} for t, row in table.iterrows()}
    public = active[[access_of(p, e) == "public"
                     for p, e in zip(active["is_public"], active["error"], strict=True)]]
    public = public[public["age"].notna()]
    oldest: OldestPublic | None = None
    if not public.empty:
        row = public.sort_values(["age", "region", "id"], ascending=[False, True, True]).iloc[0]
        oldest = {"region": row["region"], "id": row["id"],
                  "resource_type": row["resource_type"], "resource": row["resource"],
                  "created_at": row["created_at"], "age_days": round(float(row["age"]), 1),
                  "first_seen_at": (row["since"] if row["since"] != row["created_at"]
                                    else None)}
    return {
        "as_of": document["started_at"],
        "buckets": list(AGE_BUCKETS),
        "by_type": by_type,
        "total": {b: int(table[b].sum()) for b in AGE_BUCKETS},
        # The public findings among them, by the same buckets (issue 22: the age of public
        # exposure is what a reader looks for first).
        "public": {b: int((public["bucket"] == b).sum()) for b in AGE_BUCKETS},
        "unknown_age": int(active["age"].isna().sum()),
        "oldest_public": oldest,
        "time_to_resolve": time_to_resolve(frame),
    }


def time_to_resolve(frame: pd.DataFrame) -> TimeToResolve | None:
    """Median and 90th percentile days from createdAt to the update that resolved it, over
    the RESOLVED findings collected (None when none were: finding_statuses decides)."""
    resolved = frame[frame["status"] == "RESOLVED"].copy()
    resolved["days"] = _days(resolved, "created_at", "updated_at")
    resolved = resolved[resolved["days"].notna() & (resolved["days"] >= 0)]
    if resolved.empty:
        return None
    grouped = resolved.groupby("resource_type")["days"]
    return {
        "resolved": len(resolved),
        "median_days": round(float(resolved["days"].median()), 1),
        "p90_days": round(float(resolved["days"].quantile(0.9)), 1),
        "by_type": {str(t): {"resolved": int(n), "median_days": round(float(m), 1),
                             "p90_days": round(float(q), 1)}
                    for t, n, m, q in zip(grouped.size().index, grouped.size(),
                                          grouped.median(), grouped.quantile(0.9),
                                          strict=True)},
    }
