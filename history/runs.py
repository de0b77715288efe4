"""A recorded run as the diff and the trend see it: from a scan document or from the store.

`RunView` is the common shape of the two sources, so a baseline read from the history and
one given as a scan.json (`--baseline FILE`) are compared by the same code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from document.schema import Finding, ScanDocument


@dataclass(frozen=True, slots=True)
class FindingView:
    """What the history keeps of a finding (the fields the issue's audit trail needs)."""

    region: str
    analyzer_arn: str
    id: str
    resource_type: str
    resource: str | None
    owner_account: str | None
    is_public: bool | None
    error: str | None
    status: str
    created_at: str | None
    updated_at: str | None
    # What the finding is about, whatever analyzer reported it: resource, owner account,
    # principal, action, condition and public flag. Re-creating an analyzer changes every
    # finding id but not this.
    fingerprint: bytes


@dataclass(frozen=True, slots=True)
class RegionView:
    region: str
    status: str
    reason: str | None
    complete: bool
    findings_collected: bool
    analyzer_arn: str | None  # whose findings were read


@dataclass(frozen=True, slots=True)
class GapView:
    scope: str
    region: str | None
    code: str
    severity: str
    title: str


@dataclass(frozen=True)
class RunView:
    run_id: str
    started_at: str
    organization_id: str | None
    account_id: str
    interrupted: bool
    coverage_only: bool
    regions: dict[str, RegionView]
    gaps: tuple[GapView, ...]
    findings: tuple[FindingView, ...] = field(repr=False)
    schema_version: int = 1


def fingerprint(resource: str | None, owner: str | None, principal: object, action: object,
                condition: object, is_public: bool | None) -> bytes:
    """A stable 16-byte digest of what a finding grants, independent of its id."""
    text = json.dumps([resource, owner, principal, sorted(action) if isinstance(action, list)
                       else action, condition, is_public], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def finding_view(finding: Finding) -> FindingView:
    return FindingView(
        region=finding["region"], analyzer_arn=finding["analyzer_arn"], id=finding["id"],
        resource_type=finding["resource_type"], resource=finding["resource"],
        owner_account=finding["resource_owner_account"], is_public=finding["is_public"],
        error=finding["error"], status=finding["status"], created_at=finding["created_at"],
        updated_at=finding["updated_at"],
        fingerprint=fingerprint(finding["resource"], finding["resource_owner_account"],
                                finding["principal"], finding["action"], finding["condition"],
                                finding["is_public"]))


def run_id_of(document: ScanDocument) -> str:
    """The document's run id; for a scan.json written before run ids existed, one derived
    from what identifies the run, so importing the same file twice is one run."""
    given = document.get("run_id")
    if isinstance(given, str) and given:
        return given
    seed = "|".join([document["started_at"], document["finished_at"],
                     document["identity"]["account_id"], document["organization"]["id"] or ""])
    return "imported-" + hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()


def run_view(document: ScanDocument) -> RunView:
    """The view of a scan document."""
    regions = {}
    for region in document["regions"]:
        source = region["findings_analyzer"]
        regions[region["region"]] = RegionView(
            region["region"], region["status"], region["reason"], region["complete"],
            region["findings_collected"], source["arn"] if source else None)
    gaps = tuple(GapView(g["scope"], g["region"], g["code"], g["severity"], g["title"])
                 for g in document["gaps"])
    summary = document["summary"]
    return RunView(
        run_id=run_id_of(document), started_at=document["started_at"],
        organization_id=document["organization"]["id"],
        account_id=document["identity"]["account_id"],
        interrupted=summary["interrupted"], coverage_only=summary["coverage_only"],
        regions=regions, gaps=gaps,
        findings=tuple(finding_view(f) for f in document["findings"]),
        schema_version=document["schema_version"])
