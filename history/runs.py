"""A recorded run as the diff and the trend see it: from a scan document or from the store.

`RunView` is the common shape of the two sources, so a baseline read from the history and
one given as a scan.json (`--baseline FILE`) are compared by the same code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

from document.schema import Finding, ScanDocument


class FindingView(NamedTuple):
    """What the history keeps of a finding (the fields the issue's audit trail needs). A
    named tuple, not a dataclass: a run has 100,000 of them, built in a tenth of the time."""

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
    # finding id but not this. Read from the history, or computed when first needed from
    # the document's finding (`source`): most runs never need most of them.
    fingerprint: bytes | None = None
    source: Finding | None = None

    @property
    def state(self) -> tuple[object, ...]:
        """Everything but how the fingerprint is held: what two views of one finding share."""
        return self[:11]


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
    """A stable 16-byte digest of what a finding grants, independent of its id. (repr() of
    plain values: deterministic, C-speed, and it runs for every finding new to the history.)"""
    text = repr((resource, owner, _items(principal),
                 sorted(action) if isinstance(action, list) else action,
                 _items(condition), is_public))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _items(mapping: object) -> object:
    return sorted(mapping.items()) if isinstance(mapping, dict) else mapping


def canonical(values: object) -> bytes:
    """Plain values as deterministic bytes, for digests."""
    return repr(values).encode("utf-8", "surrogatepass")


def fingerprint_of(finding: FindingView) -> bytes:
    if finding.fingerprint is not None:
        return finding.fingerprint
    source = finding.source
    assert source is not None, "a finding from the history carries its fingerprint"
    return fingerprint(source["resource"], source["resource_owner_account"],
                       source["principal"], source["action"], source["condition"],
                       source["is_public"])


def finding_view(finding: Finding) -> FindingView:
    return FindingView(
        finding["region"], finding["analyzer_arn"], finding["id"], finding["resource_type"],
        finding["resource"], finding["resource_owner_account"], finding["is_public"],
        finding["error"], finding["status"], finding["created_at"], finding["updated_at"],
        None, finding)


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
