"""Builders for model objects and scan documents, so tests state only what matters to them.

    doc = make_document(regions=[covered("us-east-1", findings=[finding(resource="=1+1")])])

Documents go through the real judge and document builder, so they are what a scan writes.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from reports.document.exceptions import ExceptionSpec, spec_key
from scanner.aws import utc_text
from scanner.document import build_document
from scanner.judge import findings_source, judge
from scanner.model import (
    Analyzer,
    ApiError,
    Finding,
    FindingsStatistics,
    Identity,
    OrganizationFacts,
    RegionAvailability,
    RegionDiscovery,
    RegionScan,
    RegionSource,
    ScanResult,
)

ADMIN = "222222222222"
MANAGEMENT = "111111111111"
MEMBER = "333333333333"
T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
DENIED = ApiError("AccessDeniedException", "explicit deny in a service control policy",
                  "access-analyzer:ListAnalyzers")
_ids = itertools.count(1)


def analyzer(region: str = "us-east-1", type: str = "ORGANIZATION", status: str = "ACTIVE",
             name: str | None = None, status_reason: str | None = None,
             account: str = ADMIN) -> Analyzer:
    name = name or f"{type.lower().replace('_', '-')}-analyzer"
    return Analyzer(name=name, arn=f"arn:aws:access-analyzer:{region}:{account}:analyzer/{name}",
                    type=type, status=status, status_reason=status_reason, created_at=T0)


def finding(region: str = "us-east-1", resource_type: str = "AWS::S3::Bucket",
            resource: str | None = None, owner: str | None = MEMBER, is_public: bool = False,
            status: str = "ACTIVE", principal: Mapping[str, str] | None = None,
            action: Sequence[str] = ("s3:GetObject",),
            condition: Mapping[str, str] | None = None, error: str | None = None,
            analyzer_arn: str | None = None, id: str | None = None,
            created_at: dt.datetime = T0) -> Finding:
    """A finding record as the collector builds it (times as scan.json's UTC text)."""
    number = next(_ids)
    return {
        "region": region,
        "analyzer_arn": analyzer_arn or f"arn:aws:access-analyzer:{region}:{ADMIN}:analyzer/"
                                        "organization-analyzer",
        "id": id or f"00000000-0000-4000-8000-{number:012d}",
        "resource_type": resource_type,
        "resource": resource if resource is not None else f"arn:aws:s3:::bucket-{number}",
        "resource_owner_account": owner,
        "principal": dict(principal) if principal is not None else (
            {"AWS": "*"} if is_public else {"AWS": "arn:aws:iam::999999999999:root"}),
        "action": list(action),
        "condition": dict(condition or {}),
        "is_public": is_public,
        "status": status,
        "created_at": utc_text(created_at),
        "updated_at": utc_text(T0 + dt.timedelta(days=1)),
        "analyzed_at": utc_text(T0 + dt.timedelta(days=2)),
        "error": error,
    }


def changed(record: Finding, **values: object) -> Finding:
    """A copy of a finding record with some values changed."""
    return {**record, **values}  # type: ignore[typeddict-item]


def region_scan(region: str = "us-east-1", analyzers: Iterable[Analyzer] | None = None,
                findings: Iterable[Finding] = (), error: ApiError | None = None,
                findings_errors: Iterable[ApiError] = (), enabled: bool | None = True,
                opt_in_status: str | None = "ENABLED_BY_DEFAULT", excluded: str | None = None,
                statistics: FindingsStatistics | None = None) -> RegionScan:
    """A scanned region. analyzers=None with error=... is a region whose ListAnalyzers failed;
    enabled=False is a region that was not called."""
    availability = RegionAvailability(region, enabled, opt_in_status)
    if excluded is not None or enabled is False:
        return RegionScan(region=region, availability=availability, excluded_reason=excluded)
    listed = None if error is not None else tuple(analyzers or ())
    findings = tuple(findings)
    source = findings_source(listed or ())
    return RegionScan(
        region=region, availability=availability, analyzers=listed, analyzers_error=error,
        findings_analyzer=source, findings=findings, findings_collected=source is not None,
        findings_errors=tuple(findings_errors),
        statistics=statistics or (FindingsStatistics(
            sum(1 for f in findings if f["status"] == "ACTIVE"), 0, 0) if source else None),
        api_calls=3, seconds=0.5)


def covered(region: str = "us-east-1", findings: Iterable[Finding] = ()) -> RegionScan:
    return region_scan(region, [analyzer(region)], findings)


def organization(role_account: str = ADMIN, trusted: bool | None = True,
                 admins: tuple[str, ...] | None = (ADMIN,), in_org: bool | None = True,
                 errors: Iterable[ApiError] = (),
                 accounts: Mapping[str, str] | None = None) -> OrganizationFacts:
    if in_org is False:
        return OrganizationFacts(in_organization=False)
    return OrganizationFacts(
        in_organization=in_org,
        organization_id="o-abcdef1234" if in_org else None,
        management_account_id=MANAGEMENT if in_org else None,
        trusted_services=(None if trusted is None else frozenset(
            ["access-analyzer.amazonaws.com"] if trusted else ["sso.amazonaws.com"])),
        delegated_administrators=admins,
        accounts=accounts if accounts is not None else {
            MANAGEMENT: "management", ADMIN: "security", MEMBER: "workloads"},
        errors=tuple(errors))


def make_scan_result(regions: Iterable[RegionScan] | None = None,
                     org: OrganizationFacts | None = None, account: str = ADMIN,
                     coverage_types: tuple[str, ...] = ("ORGANIZATION",),
                     coverage_only: bool = False, interrupted: bool = False,
                     finding_statuses: tuple[str, ...] = ("ACTIVE",)) -> ScanResult:
    regions = tuple(regions if regions is not None else [covered()])
    return ScanResult(
        started_at=T0,
        finished_at=T0 + dt.timedelta(seconds=42),
        identity=Identity(account, f"arn:aws:sts::{account}:assumed-role/Audit/aa-scan"),
        organization=org or organization(),
        discovery=RegionDiscovery(RegionSource.ACCOUNT_LIST_REGIONS,
                                  tuple(r.availability for r in regions if r.availability)),
        regions=regions,
        coverage_types=coverage_types,
        finding_statuses=finding_statuses,
        coverage_only=coverage_only,
        interrupted=interrupted,
    )


def exception(region: str | None = None, code: str | None = None, *,
              finding_id: str | None = None, resource: str | None = None,
              expires: str = "2026-12-31", reason: str = "accepted by the risk board",
              owner: str = "secops@example.com", ticket: str | None = "RISK-101",
              source: str = "exceptions.yaml:2", public: bool | None = None,
              analyzer_type: str | None = None) -> ExceptionSpec:
    """An exception as the configuration gives it (a gap one with code, else a finding one;
    T0 is 2026-11-01, so the default expiry is two months after it). `public` and
    `analyzer_type` are set only when given, as the configuration records them."""
    kind: Literal["gap", "finding"] = "gap" if code is not None else "finding"
    where = region or "*"
    spec: ExceptionSpec = {
        "key": spec_key(kind, where, code, finding_id, resource, analyzer_type), "kind": kind,
        "region": where, "code": code, "finding_id": finding_id, "resource": resource,
        "reason": reason, "owner": owner, "expires": expires, "ticket": ticket,
        "source": source}
    if public is not None:
        spec["public"] = public
    if analyzer_type is not None:
        spec["analyzer_type"] = analyzer_type
    return spec


def make_document(regions: Iterable[RegionScan] | None = None,
                  exceptions: Sequence[ExceptionSpec] = (), **kwargs: Any) -> dict[str, Any]:
    """A scan.json document, through the real judge and document builder."""
    result = make_scan_result(regions, **kwargs)
    configuration: dict[str, Any] = {"config_file": None,
                                     "coverage_types": list(result.coverage_types)}
    if exceptions:
        configuration["exceptions"] = [dict(e) for e in exceptions]
    return build_document(result, judge(result, exceptions), configuration)
