"""The audit trail in report.html: the "Since <baseline>" panel, the trend charts over the
recorded runs (inline SVG coordinates) and the age of the active findings."""

from __future__ import annotations

from typing import Any

from reports.document.rules import type_label
from reports.document.schema import ScanDocument
from reports.document.trail import Changes, ExceptionChange

from ..tables import SEVERITY_ORDER, STATUS_LABELS, parse_time, untold_text
from .display import STATUS_TONES, day

MAX_NEW_PUBLIC = 20  # new public findings listed in the "Since" panel (all are counted)
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 520, 170, 34


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


def _series(points: list[tuple[float, float]], top: float) -> dict[str, Any]:
    """Chart coordinates of one line: x already in 0..1, y scaled to 0..top."""
    width, height, pad = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD, CHART_PAD
    scaled = [(round(pad + x * width, 1), round(pad + height - (y / top if top else 0) * height,
                                                  1)) for x, y in points]
    return {"points": " ".join(f"{x},{y}" for x, y in scaled),
            "dots": [{"x": x, "y": y} for x, y in scaled]}


def trend(document: ScanDocument) -> dict[str, Any] | None:
    """Two small line charts over the recorded runs (inline SVG, drawn by the template)."""
    runs = document.get("trend")
    if not runs or len(runs) < 2:
        return None  # a trend needs two recorded runs (the first says so in its panel)
    times = [t.timestamp() for t in (parse_time(r["started_at"]) for r in runs) if t]
    if len(times) != len(runs):
        return None
    first, last = min(times), max(times)
    xs = [(t - first) / (last - first) if last > first else 0.5 for t in times]
    total = max(r["regions_total"] for r in runs) or 1
    active = [r["active_findings"] for r in runs]
    top = max([a for a in active if a is not None] or [0]) or 1
    with_findings = [(x, r) for x, r in zip(xs, runs, strict=True)
                     if r["active_findings"] is not None]
    axis = {"left": CHART_PAD, "right": CHART_WIDTH - CHART_PAD, "top": CHART_PAD,
            "bottom": CHART_HEIGHT - CHART_PAD, "width": CHART_WIDTH, "height": CHART_HEIGHT}
    return {
        "runs": len(runs), "first": day(parse_time(runs[0]["started_at"])),
        "last": day(parse_time(runs[-1]["started_at"])), "axis": axis,
        "coverage": {"top": total, "line": _series([(x, r["covered"]) for x, r in
                                                     zip(xs, runs, strict=True)], total),
                     "latest": runs[-1]["covered"]},
        "findings": {"top": top,
                     "active": _series([(x, r["active_findings"] or 0)
                                        for x, r in with_findings], top),
                     "public": _series([(x, r["public_findings"] or 0)
                                        for x, r in with_findings], top),
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
    return {"buckets": age["buckets"], "rows": rows,
            "total": [age["total"].get(b, 0) for b in age["buckets"]],
            "unknown": age["unknown_age"], "oldest": age["oldest_public"],
            "oldest_label": type_label(age["oldest_public"]["resource_type"])
            if age["oldest_public"] else "",
            "resolve": resolve}
