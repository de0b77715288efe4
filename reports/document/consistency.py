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

from reports.document.exceptions import (
    Acceptance,
    MatchedGap,
    counts_of,
    judge_exceptions,
    spec_key,
    spec_of,
)
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
    # A gap an exception accepts (by the exceptions' own rule, never by what the gap says)
    # does not make the organization non-compliant.
    acceptance = acceptance_of(document)
    accepted = acceptance.gaps if acceptance else [None] * len(document["gaps"])
    if acceptance is not None:
        values["accepted"] = counts_of(acceptance, document["findings"])
    if any(g["code"] not in ASSESSMENT_GAPS and key is None
           for g, key in zip(document["gaps"], accepted, strict=True)):
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
    found += _acceptance_disagreements(document)
    return found


def acceptance_of(document: ScanDocument) -> Acceptance | None:
    """The document's exceptions applied again to its gaps and findings, as of its start
    (None: it has no exceptions)."""
    block = document.get("exceptions")
    if block is None:
        return None
    regions = {r["region"]: r["status"] for r in document["regions"]}
    gaps: list[MatchedGap] = [{"scope": g["scope"], "region": g["region"], "code": g["code"],
                               "analyzer_type": g.get("analyzer_type")}
                              for g in document["gaps"]]
    return judge_exceptions([spec_of(e) for e in block["entries"]], gaps,
                            document["findings"], document["started_at"], regions,
                            findings_read=not document["summary"]["coverage_only"],
                            coverage_types=document["configuration"].get("coverage_types")
                            or ["ORGANIZATION"])


def _acceptance_disagreements(document: ScanDocument) -> list[str]:
    """What the document says exceptions accepted that its exceptions, applied again as of
    its start, do not: an exception moved in time, a key that hides what it matches, a gap
    or finding marked accepted by none, a register that disagrees with the configuration."""
    block = document.get("exceptions")
    carried = [g for g in document["gaps"] if "exception" in g]
    carried_findings = [f for f in document["findings"] if "exception" in f]
    if block is None:
        if carried or carried_findings:
            return [f"{len(carried) + len(carried_findings)} gap(s) or finding(s) say an "
                    "exception accepts them, and the document has no exceptions"]
        return []
    found = []
    if "accepted" not in document["summary"]:
        # Without it the verdict would read as a plain COMPLIANT that rests on exceptions.
        found.append("summary.accepted is missing beside the document's exceptions")
    if block["as_of"] != document["started_at"]:
        found.append(f"exceptions.as_of is {block['as_of']!r}, not the scan's start "
                     f"{document['started_at']!r}: exceptions are judged as of the scan")
    for entry in block["entries"]:
        matches = spec_key(entry["kind"], entry["region"], entry["code"],
                           entry["finding_id"], entry["resource"], entry.get("analyzer_type"))
        if matches != entry["key"]:
            found.append(f"exception {entry['key']!r} matches {matches!r}")
    configured = document["configuration"].get("exceptions")
    if configured is not None and configured != [spec_of(e) for e in block["entries"]]:
        found.append("the exceptions of the register are not those of the configuration")
    acceptance = acceptance_of(document)
    assert acceptance is not None
    again = {e["key"]: e for e in acceptance.entries}
    for entry in block["entries"]:
        if again.get(entry["key"]) != entry:
            found.append(f"exception {entry['key']!r}: its state or matches are not what its "
                         f"expiry and the scan give (as of {document['started_at']})")
    for gap, accepting in zip(document["gaps"], acceptance.gaps, strict=True):
        said = gap.get("exception")
        if said != (acceptance.accepted_by(accepting) if accepting else None):
            found.append(f"gap {gap['code']} in {gap['region'] or 'the organization'}: "
                         f"accepted by {said['key'] if said else 'none'}, the exceptions say "
                         f"{accepting or 'none'}")
    wrong = 0
    carriers = {key: acceptance.accepted_by(key) for key in set(acceptance.findings.values())}
    for finding in document["findings"]:
        by = acceptance.findings.get((finding["region"], finding["id"]))
        if finding.get("exception") != (carriers[by] if by else None):
            wrong += 1
    if wrong:
        found.append(f"{wrong} finding(s) accepted otherwise than the exceptions say")
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
