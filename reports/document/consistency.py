"""Whether a scan document's summary, verdict and gaps say what its regions say.

A re-render (`--from-json`) writes reports, and signs them when asked, from a scan.json that
anyone may have edited: gaps removed and the verdict set to COMPLIANT while four regions
still say GAP would otherwise be rendered, and signed, as a compliant organization. So a
re-render recomputes from the regions and gaps it renders everything they determine (the
region counts, the finding totals, the verdict, and which regions must have a gap) and is
refused when the document says otherwise.

The verdict rule is the judge's (scanner/judge.py, which builds it from the model): a gap
about the organization or a region is non-compliance; a gap about where the scan ran
(ASSESSMENT_GAPS) only ever stands beside regions it kept from being assessed, so the result
is then INCOMPLETE; otherwise COMPLIANT when complete. tests/evidence/test_consistency.py
holds the judge's gap table to ASSESSMENT_GAPS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from reports.document.rules import ORGANIZATION_WIDE_TYPES, GapCode, RegionStatusValue
from reports.document.schema import ScanDocument

# The gaps about where the scan ran: the judge's GapText(..., blocks_assessment=True).
ASSESSMENT_GAPS = frozenset(
    {
        GapCode.SCANNED_FROM_MEMBER_ACCOUNT,
        GapCode.SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR,
        GapCode.ANALYZER_VISIBILITY_UNKNOWN,
    }
)
REGION_COUNTS: Mapping[str, RegionStatusValue] = {
    "covered": "COVERED",
    "gaps": "GAP",
    "errors": "ERROR",
    "not_enabled": "NOT_ENABLED",
    "excluded": "EXCLUDED",
}
FINDING_TOTALS = {
    "active_findings": "active",
    "public_findings": "public",
    "cross_account_findings": "cross_account",
    "error_findings": "errors",
}


def recomputed(document: ScanDocument) -> dict[str, Any]:
    """The summary's values that the regions and gaps determine."""
    regions = document["regions"]
    summary = document["summary"]
    statuses = Counter(r["status"] for r in regions)
    values: dict[str, Any] = {"regions_total": len(regions)}
    values.update({key: statuses[status] for key, status in REGION_COUNTS.items()})
    totals = Counter[str]()
    for region in regions:
        for counts in region["findings"].values():
            totals["active"] += counts["active"]
            totals["public"] += counts["public"]
            totals["cross_account"] += counts["cross_account"]
            totals["errors"] += counts["errors"]
    for key, count in FINDING_TOTALS.items():
        values[key] = None if summary["coverage_only"] else totals[count]
    incomplete = (
        statuses["ERROR"] > 0
        or any(r["status"] != "ERROR" and not r["complete"] for r in regions)
        or summary["interrupted"]
        or not (statuses["COVERED"] or statuses["GAP"])
    )
    # Other reasons (an organization call that failed) are not in the regions: a document
    # may say it is incomplete for them, never complete against the regions.
    complete = bool(summary["complete"]) and not incomplete
    values["complete"] = complete
    if any(g["code"] not in ASSESSMENT_GAPS for g in document["gaps"]):
        values["verdict"] = "NON_COMPLIANT"
    elif not complete:
        values["verdict"] = "INCOMPLETE"
    else:
        values["verdict"] = "COMPLIANT"
    return values


def disagreements(document: ScanDocument) -> list[str]:
    """What the summary, verdict and gaps say that the regions do not, one phrase each."""
    summary: dict[str, Any] = dict(document["summary"])
    found = []
    for key, value in recomputed(document).items():
        # A key a document of its time did not have (error_findings) says nothing.
        if key in summary and summary[key] != value:
            found.append(f"summary.{key} is {summary.get(key)!r}, the regions say {value!r}")
    if summary["complete"] and summary["incomplete_reasons"]:
        found.append("summary.complete is true beside incomplete_reasons")
    if not summary["complete"] and not summary["incomplete_reasons"]:
        found.append("summary.complete is false without incomplete_reasons")
    gap_regions = {r["region"]: r for r in document["regions"] if r["status"] == "GAP"}
    codes: dict[str, set[str]] = {}
    for gap in document["gaps"]:
        if gap["scope"] == "region":
            codes.setdefault(str(gap["region"]), set()).add(gap["code"])
    for name, region in gap_regions.items():
        if name not in codes:
            found.append(f"region {name} is GAP ({region['reason']}) but gaps[] has no gap there")
        elif region["reason"] not in codes[name]:
            found.append(f"region {name} is GAP for {region['reason']}, not a gap in gaps[]")
    for name in sorted(set(codes) - set(gap_regions)):
        found.append(f"gaps[] has a gap in region {name}, which is not GAP")
    found += _covered_without_analyzers(document)
    return found


def _covered_without_analyzers(document: ScanDocument) -> list[str]:
    """Regions COVERED though their own analyzer list holds no ACTIVE analyzer of a type the
    configuration requires in each region: a status no scan could have given them."""
    required = [t for t in document["configuration"].get("coverage_types") or ["ORGANIZATION"]
                if t not in ORGANIZATION_WIDE_TYPES]
    found = []
    for region in document["regions"]:
        if region["status"] != "COVERED":
            continue
        active = {a["type"] for a in region["analyzers"] if a["status"] == "ACTIVE"}
        missing = [t for t in required if t not in active]
        if missing:
            found.append(f"region {region['region']} is COVERED without an ACTIVE "
                         f"{', '.join(missing)} analyzer in its own list")
    return found
