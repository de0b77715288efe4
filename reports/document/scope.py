"""What a scan document covers, in the terms an auditor asks for: the population (accounts of
the organization, regions enabled, scanned, not enabled and excluded with their reasons), the
query (API operations and how often each was called), the parameters (the effective
configuration) and whether the result is complete.

reports.document.derive computes it once into the document (`derived`), from which the
manifest, report.html and report.xlsx all state it, so they cannot disagree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from reports.document.schema import Completeness, Region, RegionCounts, ScanDocument, Scope

# Region statuses (document.rules.RegionStatus) of a region the scan called.
SCANNED = frozenset({"COVERED", "GAP", "ERROR"})
# Opt-in statuses that say a region is enabled, as account:ListRegions and
# ec2:DescribeRegions spell them.
ENABLED_OPT_IN = frozenset({"ENABLED", "ENABLED_BY_DEFAULT", "opt-in-not-required",
                            "opted-in"})


def _enabled(region: Region) -> bool:
    """Enabled for the account: anything the scan did not find disabled. An excluded region
    was not called, so only its opt-in status can say (unknown counts as enabled: the
    exclusion, not the account, kept it out)."""
    if region["status"] == "NOT_ENABLED":
        return False
    if region["status"] == "EXCLUDED" and region["opt_in_status"] is not None:
        return region["opt_in_status"] in ENABLED_OPT_IN
    return True


# What each count is called, in the HTML, the workbook, the terminal and the manifest alike.
REGION_COUNT_LABELS: Mapping[str, str] = {
    "listed": "Regions listed",
    "enabled": "Regions enabled",
    "scanned": "Regions scanned",
    "assessed": "Regions assessed",
    "covered": "Regions covered",
    "gaps": "Regions with gaps",
    "not_assessed": "Regions not assessed",
    "excluded": "Regions excluded",
    "not_enabled": "Regions not enabled",
}


def region_counts(document: ScanDocument) -> RegionCounts:
    """The regions counted once for every report: "covered" is out of the regions assessed
    (covered or with a gap), never out of every region listed."""
    regions = document["regions"]
    statuses = [r["status"] for r in regions]
    covered, gaps = statuses.count("COVERED"), statuses.count("GAP")
    return {"listed": len(regions), "enabled": sum(1 for r in regions if _enabled(r)),
            "scanned": sum(1 for s in statuses if s in SCANNED),
            "assessed": covered + gaps, "covered": covered, "gaps": gaps,
            "not_assessed": statuses.count("ERROR"), "excluded": statuses.count("EXCLUDED"),
            "not_enabled": statuses.count("NOT_ENABLED")}


def regions_sentence(counts: RegionCounts) -> str:
    """The counts as one phrase, the same in every report: "covered: 13 of 17 regions
    assessed (4 with gaps); 19 enabled: 1 not assessed, 1 excluded; 15 not enabled"."""
    text = (f"covered: {counts['covered']} of {counts['assessed']} regions assessed "
            f"({counts['gaps']} with gaps); {counts['enabled']} enabled")
    held = [f"{counts['not_assessed']} not assessed"] if counts["not_assessed"] else []
    held += [f"{counts['excluded']} excluded"] if counts["excluded"] else []
    if held:
        text += ": " + ", ".join(held)
    return text + f"; {counts['not_enabled']} not enabled"


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def scope(document: ScanDocument) -> Scope:
    """The population, as the regions and the configuration of the document give it."""
    regions = document["regions"]
    accounts = document["organization"]["accounts"]
    configuration = document["configuration"]
    return {
        "accounts": len(accounts) if accounts is not None else None,
        "regions_enabled": sorted(r["region"] for r in regions if _enabled(r)),
        "regions_scanned": sorted(r["region"] for r in regions if r["status"] in SCANNED),
        "regions_not_enabled": sorted(r["region"] for r in regions
                                      if r["status"] == "NOT_ENABLED"),
        "regions_excluded": {r["region"]: r["reason"] or "" for r in
                             sorted(regions, key=lambda r: r["region"])
                             if r["status"] == "EXCLUDED"},
        # As the scan recorded them; a document that does not record them says nothing.
        "coverage_types": _strings(configuration.get("coverage_types")),
        "finding_statuses": _strings(configuration.get("finding_statuses")),
        "region_counts": region_counts(document),
    }


def completeness(document: ScanDocument) -> Completeness:
    """Whether the result is complete (the summary's word), and the API calls made."""
    summary = document["summary"]
    calls = document.get("api_calls")
    return {"complete": summary["complete"], "reasons": list(summary["incomplete_reasons"]),
            "api_calls": dict(sorted(calls.items())) if calls is not None else None}


def canonical_json(value: Any) -> bytes:
    """One byte string per value whatever the key order: sorted keys, no whitespace, anything
    beyond ASCII as a \\u escape. The hash of the configuration is taken over this form, so
    anyone can recompute it: json.dumps(c, sort_keys=True, separators=(",", ":"))."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def configuration_sha256(configuration: Mapping[str, Any]) -> str:
    """The SHA-256, in hex, of a configuration's canonical_json."""
    return hashlib.sha256(canonical_json(dict(configuration))).hexdigest()
