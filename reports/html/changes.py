"""The audit trail in report.html: the "Since <baseline>" panel, the trend charts over the
recorded runs (inline SVG coordinates) and the age of the active findings."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from reports.document.rules import type_label
from reports.document.schema import ScanDocument
from reports.document.trail import Changes, ExceptionChange

from ..tables import SEVERITY_ORDER, STATUS_LABELS, parse_time, untold_text
from .display import STATUS_TONES, day

MAX_NEW_PUBLIC = 20  # new public findings listed in the "Since" panel (all are counted)
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 520, 200, 16
CHART_LEFT, CHART_BOTTOM = 48, 56  # room for the y labels, and for slanted run labels
MAX_LABELS = 10  # run labels under a chart; every run still has its tick


def since_baseline(document: ScanDocument) -> dict[str, Any] | None:
    """The "Since <baseline>" panel: what changed, from the document's changes block."""
    found = document.get("changes")
    if found is None:
        return None
    baseline = found["baseline"]
    if baseline is None:
        return {"first": True, "history_error": found.get("history_error")}
    new_public = [f for f in found["findings_new"] if f["is_public"]]
    changed = sorted(found.get("findings_changed", []),
                     key=lambda f: (not (f["is_public"] and not f["was_public"]), f["region"],
                                    f["resource"] or ""))
    counts = found["counts"]
    turned = counts.get("findings_turned_public", 0)
    requirement = found.get("requirement")
    severity = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return {
        "first": False,
        "since": day(parse_time(baseline["started_at"])),
        "baseline": baseline,
        "counts": found["counts"],
        "opened": sorted(found["gaps_opened"], key=lambda g: severity.get(g["severity"], 9)),
        "closed": found["gaps_closed"],
        "regions": [{**r, "before_label": STATUS_LABELS.get(r["before"] or "", "not listed"),
                     "after_label": STATUS_LABELS.get(r["after"] or "", "not listed"),
                     "before_tone": STATUS_TONES.get(r["before"] or "", "off"),
                     "after_tone": STATUS_TONES.get(r["after"] or "", "off")}
                    for r in found["regions"]],
        "new_public": new_public[:MAX_NEW_PUBLIC],
        "new_public_more": max(0, len(new_public) - MAX_NEW_PUBLIC),
        "unknown": found["unknown"],
        "collected": document["summary"]["active_findings"] is not None,
        "new_public_count": counts["findings_new_public"] - turned,
        "changed_count": counts.get("findings_changed", 0),
        "turned_count": turned,
        "changed": [{"region": f["region"], "resource": f["resource"],
                     "turned": f["is_public"] and not f["was_public"],
                     "fields": ", ".join(f["fields"])} for f in changed[:MAX_NEW_PUBLIC]],
        "changed_more": max(0, len(changed) - MAX_NEW_PUBLIC),
        "requirement": requirement and {
            "before": " + ".join(requirement["before"] or ["not recorded"]),
            "after": " + ".join(requirement["after"] or ["not recorded"])},
        "compared_with": [{**c, "since": day(parse_time(c["started_at"]))}
                          for c in found.get("compared_with", [])],
        "history_error": found.get("history_error"),
        "escalated": [g for g in found.get("gaps_changed", []) if g["escalated"]],
        "untold": untold_text(found),
        "exceptions": _register(found),
    }


def _nice_step(top: float, ticks: int = 4) -> int:
    """A step of 1, 2 or 5 times a power of ten that divides 0..top into about `ticks`."""
    raw = max(top / ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def _chart(xs: list[float], labels: list[str], series: list[dict[str, Any]]) -> dict[str, Any]:
    """One line chart: every series scaled to one y axis from 0 to a round top (ticks and
    grid lines at each step), a tick and a label under every run."""
    values = [v for line in series for v in line["values"] if v is not None]
    step = _nice_step(max(values or [0]) or 1)
    top = max(step, math.ceil(max(values or [0]) / step) * step)
    slanted = len(xs) > 4
    height_all = CHART_HEIGHT if slanted else CHART_HEIGHT - CHART_BOTTOM + 26
    # a slanted first label reaches left of its tick: room for it
    left = CHART_LEFT + (24 if slanted else 0)
    right, upper, lower = CHART_WIDTH - CHART_PAD, CHART_PAD, \
        height_all - (CHART_BOTTOM if slanted else 26)
    width, height = right - left, lower - upper

    def point(x: float, y: float) -> tuple[float, float]:
        return round(left + x * width, 1), round(lower - y / top * height, 1)

    lines = []
    for line in series:
        scaled = [point(x, v) for x, v in zip(xs, line["values"], strict=True) if v is not None]
        lines.append({**line, "points": " ".join(f"{x},{y}" for x, y in scaled),
                      "dots": [{"x": x, "y": y} for x, y in scaled]})
    # Every run has its tick; its label when there is room (the last always has one).
    room = max(1, math.ceil(len(xs) / MAX_LABELS))
    last = len(xs) - 1
    xticks = [{"x": point(x, 0)[0],
               "label": label if (i % room == 0 or i == last)
               and not (i != last and last - i < room) else "",
               # level labels stay inside the chart: the first starts at its tick, the last
               # ends at it
               "anchor": "start" if i == 0 else "end" if i == last else "middle"}
              for i, (x, label) in enumerate(zip(xs, labels, strict=True))]
    return {"left": left, "right": right, "top": upper, "bottom": lower,
            "width": CHART_WIDTH, "height": height_all, "lines": lines,
            "yticks": [{"y": point(0, v)[1], "label": f"{v:,}"}
                       for v in range(0, top + 1, step)],
            "xticks": xticks, "slanted": slanted}


def _register(found: Changes) -> dict[str, Any] | None:
    """The register since the baseline: exceptions added, removed, expired and changed, and
    what they no longer accept (None: neither run had exceptions)."""
    register = found.get("exceptions")
    if register is None:
        return None

    def listed(entries: list[ExceptionChange]) -> list[str]:
        out = []
        for e in entries:
            text = f"{e['key']} ({e['owner']}, until {e['expires']}"
            if "expires_before" in e:
                text += f", was {e['expires_before']}"
            if "owner_before" in e:
                text += f", owner was {e['owner_before']}"
            if "public_before" in e:
                text += (", now public findings too" if not e["public_before"]
                         else ", no longer public findings")
            out.append(text + ")")
        return out

    lost = [f"{g['code']} in {g['region'] or 'the organization'} (was {g.get('exception')})"
            for g in register["gaps_no_longer_accepted"]]
    lost += [f"{'public ' if f['is_public'] else ''}finding {f['resource'] or f['id']} in "
             f"{f['region']} (was {f.get('exception')})"
             for f in register["findings_no_longer_accepted"]]
    groups = [("Exceptions added", listed(register["added"])),
              ("Exceptions removed", listed(register["removed"])),
              ("Exceptions expired", listed(register["expired"])),
              ("Exceptions renewed or changed", listed(register["changed"])),
              ("No longer accepted (counted again)", lost)]
    return {"groups": [{"title": t, "items": items[:MAX_NEW_PUBLIC],
                        "more": max(0, len(items) - MAX_NEW_PUBLIC)}
                       for t, items in groups if items],
            "lost": len(lost),
            "opened_accepted": found["counts"].get("gaps_opened_accepted", 0)}


def trend(document: ScanDocument) -> dict[str, Any] | None:
    """Two small line charts over the recorded runs (inline SVG, drawn by the template):
    regions covered and with gaps against the regions assessed, and active and public
    findings; each run labelled (with its time when two runs share a day)."""
    runs = document.get("trend")
    if not runs or len(runs) < 2:
        return None  # a trend needs two recorded runs (the first says so in its panel)
    parsed = [parse_time(r["started_at"]) for r in runs]
    times = [t for t in parsed if t]
    if len(times) != len(runs):
        return None
    first, last = min(t.timestamp() for t in times), max(t.timestamp() for t in times)
    xs = [(t.timestamp() - first) / (last - first) if last > first else
          (i / (len(times) - 1)) for i, t in enumerate(times)]
    days = [day(t) for t in times]
    shared = len(set(days)) < len(days)
    minutes = [f"{t.astimezone(dt.UTC):%H:%M}" for t in times]
    clock = "%H:%M:%S" if len(set(zip(days, minutes, strict=True))) < len(days) else "%H:%M"
    labels = [f"{d} {t.astimezone(dt.UTC).strftime(clock)}" if shared and days.count(d) > 1
              else d for d, t in zip(days, times, strict=True)]
    assessed = [r["covered"] + r["gaps"] for r in runs]
    with_findings = [r["active_findings"] is not None for r in runs]
    return {
        "runs": len(runs), "first": labels[0], "last": labels[-1],
        "coverage": {
            "chart": _chart(xs, labels, [
                {"name": "assessed", "label": "Regions assessed", "values": assessed},
                {"name": "covered", "label": "Regions covered", "values":
                 [r["covered"] for r in runs]},
                {"name": "gaps", "label": "Regions with gaps", "values":
                 [r["gaps"] for r in runs]}]),
            "latest": runs[-1]["covered"], "assessed": assessed[-1],
            "gaps": runs[-1]["gaps"]},
        "findings": {
            "chart": _chart(xs, labels, [
                {"name": "active", "label": "Active findings", "values":
                 [r["active_findings"] if ok else None
                  for r, ok in zip(runs, with_findings, strict=True)]},
                {"name": "public", "label": "Public", "values":
                 [r["public_findings"] if ok else None
                  for r, ok in zip(runs, with_findings, strict=True)]}]),
            "latest": runs[-1]["active_findings"],
            "latest_public": runs[-1]["public_findings"]},
    }


def ages(document: ScanDocument) -> dict[str, Any] | None:
    """The finding-age table (active findings by age and type) and the time to resolve;
    None when the document has no finding_age."""
    age = document.get("finding_age")
    if age is None:
        return None
    rows = [{"type": t, "label": type_label(t), "counts": [counts.get(b, 0)
                                                            for b in age["buckets"]]}
            for t, counts in sorted(age["by_type"].items(),
                                    key=lambda kv: (-sum(kv[1].values()), kv[0]))]
    resolve = age["time_to_resolve"]
    public = age.get("public")
    return {"buckets": age["buckets"], "rows": rows,
            "public": None if public is None else [public.get(b, 0) for b in age["buckets"]],
            "total": [age["total"].get(b, 0) for b in age["buckets"]],
            "unknown": age["unknown_age"], "oldest": age["oldest_public"],
            "oldest_label": type_label(age["oldest_public"]["resource_type"])
            if age["oldest_public"] else "",
            "resolve": resolve}
