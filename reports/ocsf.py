"""findings.ocsf.json: the scan as OCSF events, for a SIEM or a data lake (Amazon Security
Lake, Splunk, Security Hub's OCSF findings).

A JSON array, one event a line, each built and checked by py-ocsf-models (the library Prowler
uses) and stating its schema version (`metadata.version`, the library's OCSF_VERSION):

- a **Compliance Finding** (class 2003) per control evaluation: each region the scan listed
  as assessed or not assessed, and each account x region of the member view when it ran,
  once per control of the mapping (reports/document/controls.json): `compliance.standards`
  and `compliance.control` from the mapping, `compliance.status` Pass, Fail, or Unknown for
  a region that was not assessed (nothing was seen there, so nothing is claimed; Warning is
  kept for a control failed only by gaps accepted as exceptions), the gap's title, severity
  and remediation, `cloud.account` and `cloud.region`; plus one per organization check
  (trusted access, where the scan ran, ...). Regions not enabled or excluded are no
  evaluation and have no event;
- a **Detection Finding** (class 2004) per Access Analyzer finding collected (by default the
  active ones): the resource (ARN, type, region), the owner account in `cloud.account`,
  public or cross-account, what it grants (principal, action, condition) as evidence, its
  created and updated times, and its status.

Every `finding_info.uid` is stable from run to run (the evaluation's organization, account,
region and control; a finding's analyzer ARN and id), so a consumer sees the same evaluation
updated each week, not a new one; `metadata.uid` is the event's own (it includes the run id)
and `metadata.correlation_uid` the run's, so the events of one run can be told apart.

The library's ComplianceFinding has no `cloud` (OCSF's cloud profile adds it to every class):
`_CloudComplianceFinding` adds it, typed by the library's own Cloud model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from py_ocsf_models import OCSF_VERSION
from py_ocsf_models.events.findings.activity_id import ActivityID
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.events.findings.compliance_finding_type_id import ComplianceFindingTypeID
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from py_ocsf_models.events.findings.detection_finding_type_id import DetectionFindingTypeID
from py_ocsf_models.events.findings.severity_id import SeverityID
from py_ocsf_models.events.findings.status_id import StatusID
from py_ocsf_models.objects.account import Account, TypeID
from py_ocsf_models.objects.analytic import Analytic
from py_ocsf_models.objects.cloud import Cloud
from py_ocsf_models.objects.compliance import Compliance
from py_ocsf_models.objects.compliance_status import StatusID as ComplianceStatusID
from py_ocsf_models.objects.evidence_artifacts import EvidenceArtifacts
from py_ocsf_models.objects.finding_info import FindingInformation
from py_ocsf_models.objects.metadata import Metadata
from py_ocsf_models.objects.organization import Organization
from py_ocsf_models.objects.product import Product
from py_ocsf_models.objects.remediation import Remediation
from py_ocsf_models.objects.resource_details import ResourceDetails

from reports.document.controls import Control
from reports.document.evaluations import Evaluation, EvaluationStatus, evaluations
from reports.document.rules import access_of, type_label
from reports.document.schema import Finding, Gap, ScanDocument

from .files import write_atomic

if TYPE_CHECKING:
    from reports.document.pack import Integrity

FILE_NAME = "findings.ocsf.json"
_ENCODE = json.JSONEncoder(ensure_ascii=True, check_circular=False).encode
PRODUCT_URL = "https://github.com/aa-scan/aa-scan"

_SEVERITY: Mapping[str, SeverityID] = {
    "CRITICAL": SeverityID.Critical, "HIGH": SeverityID.High, "MEDIUM": SeverityID.Medium,
    "LOW": SeverityID.Low, "INFO": SeverityID.Informational}
# A check's answer -> (compliance status, finding status, severity when no gap gives one).
# A region not assessed is action to take (give the scanner sight of it), not a pass.
_ANSWER: Mapping[EvaluationStatus, tuple[ComplianceStatusID, StatusID, SeverityID]] = {
    "PASS": (ComplianceStatusID.Pass, StatusID.Resolved, SeverityID.Informational),
    "FAIL": (ComplianceStatusID.Fail, StatusID.New, SeverityID.High),
    "NOT_ASSESSED": (ComplianceStatusID.Unknown, StatusID.New, SeverityID.Medium),
}
# An Access Analyzer finding's access -> (severity, what it is, what to do about it).
_ACCESS: Mapping[str, tuple[SeverityID, str, str]] = {
    "public": (SeverityID.High, "Public access",
               "Anyone can use this access. Remove the grant from the resource's policy, or, "
               "if it is intended, archive the finding with an archive rule that names it."),
    "cross_account": (SeverityID.Medium, "Cross-account access",
                      "A principal outside the zone of trust can use this access. Remove the "
                      "grant if it is not intended; archive the finding if it is."),
    "errors": (SeverityID.Low, "Not analyzed",
               "Access Analyzer could not analyze the resource's policy: see the error, and "
               "check that the analyzer's service-linked role can read the resource."),
}
_FINDING_STATUS: Mapping[str, StatusID] = {
    "ACTIVE": StatusID.New, "ARCHIVED": StatusID.Archived, "RESOLVED": StatusID.Resolved}


# py-ocsf-models ships no type information (no py.typed): to mypy its models are Any.
class _CloudComplianceFinding(ComplianceFinding):  # type: ignore[misc]
    """A Compliance Finding with OCSF's cloud profile (`cloud`), which the library's model
    lacks."""

    cloud: Cloud


def _millis(text: str | None) -> int | None:
    """scan.json's UTC text ('YYYY-MM-DDTHH:MM:SSZ') as OCSF's timestamp (ms since epoch)."""
    if not text:
        return None
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def _plain(event: Any) -> dict[str, Any]:
    """A validated event as plain values (its enums are ints). Python mode, not JSON mode:
    pydantic's JSON mode cannot carry a lone surrogate (a JSON escape from AWS can hold one),
    which the writer keeps as the same escape."""
    dumped: dict[str, Any] = event.model_dump(mode="python", exclude_none=True)
    return dumped


def _standards(control: Control) -> list[str]:
    return [f"{control.framework} v{v}" if v else control.framework for v in control.versions]


def _requirements(control: Control) -> list[str]:
    return [f"{standard}/{control.id}" for standard in _standards(control)]


class _Events:
    """What every event of one document shares: the product, the run, the organization."""

    def __init__(self, document: ScanDocument) -> None:
        self.document = document
        self.run_id = str(document.get("run_id") or "")
        self.time = _millis(document["finished_at"]) or 0
        self.organization = document["organization"]["id"]
        self.names = document["organization"]["accounts"] or {}
        arn = document["identity"]["arn"]
        self.partition = arn.split(":")[1] if arn.count(":") >= 2 else "aws"
        self.product = Product(name="aa-scan", vendor_name="aa-scan",
                               version=document["tool"]["version"], url_string=PRODUCT_URL)

    def metadata(self, uid: str, event_code: str) -> Metadata:
        own = hashlib.sha256(f"{self.run_id}\n{uid}".encode()).hexdigest()[:32]
        return Metadata(version=OCSF_VERSION, product=self.product, profiles=["cloud"],
                        event_code=event_code, uid=own, correlation_uid=self.run_id or None)

    def cloud(self, account: str | None, region: str | None, name: str | None = None) -> Cloud:
        owner = (Account(uid=account, name=name or self.names.get(account) or account,
                         type_id=TypeID.AWS_Account, type="AWS Account")
                 if account else None)
        return Cloud(provider="AWS", region=region, account=owner,
                     org=Organization(uid=self.organization) if self.organization else None)


def _gap_text(gaps: list[Gap]) -> tuple[str, str, str]:
    """Title, description and remediation of the gaps that fail one evaluation."""
    first = gaps[0]
    more = f" (and {len(gaps) - 1} more gap(s))" if len(gaps) > 1 else ""
    fixes = "\n".join(f"{g['remediation']}\n{g['remediation_note']}".strip() for g in gaps)
    return (first["title"] + more, "\n".join(g["detail"] for g in gaps), fixes)


def _compliance_event(events: _Events, evaluation: Evaluation, control: Control | None
                      ) -> dict[str, Any]:
    """One control evaluation (control None: an organization check that no control of the
    mapping is about) as a validated OCSF Compliance Finding."""
    status = evaluation.control_status(control) if control else evaluation.status
    cited = [g for g in evaluation.gaps if control is None or evaluation.kind == "member"
             or control.cited_by(g.get("controls", []))]
    accepted = [(g, how) for g, how in evaluation.accepted
                if control is None or control.cited_by(g.get("controls", []))]
    compliance_status, finding_status, severity = _ANSWER[status]
    detail = evaluation.reason or None
    title, description, fix = evaluation.title, evaluation.reason or evaluation.title, ""
    if status == "FAIL" and cited:
        title, description, fix = _gap_text(cited)
        severity = max(_SEVERITY[g["severity"]] for g in cited)
    elif status == "FAIL":  # a member cell: the account owns no analyzer there
        title = (f"Account {evaluation.account_id} owns no ACTIVE external access analyzer "
                 f"in {evaluation.region}")
        description = (f"The member view listed account {evaluation.account_id}'s own "
                       f"analyzers in {evaluation.region}: none is an ACTIVE external access "
                       "analyzer, which this control requires of each account.")
        view = events.document.get("member_view")
        remediation = view.get("remediation") if view is not None else None
        fix = "\n".join(remediation["commands"]) if remediation else ""
    elif status == "NOT_ASSESSED":
        title = f"Not assessed: {evaluation.title}"
        fix = ("Give the scanning role sight of it (an SCP or IAM denial is the usual cause), "
               "or exclude the region with its reason.")
    elif accepted:
        compliance_status = ComplianceStatusID.Warning
        detail = "; ".join(how for _, how in accepted)
    uid = evaluation.uid if control is None else f"{evaluation.uid}/{control.key}"
    if control is not None:
        compliance = Compliance(standards=_standards(control), control=control.id,
                                requirements=_requirements(control), desc=control.requires,
                                status_id=compliance_status)
    else:
        cited_controls = evaluation.controls
        compliance = Compliance(
            standards=["aa-scan organization checks",
                       *dict.fromkeys(s for c in cited_controls for s in _standards(c))],
            control=evaluation.name,
            requirements=[r for c in cited_controls for r in _requirements(c)] or None,
            desc=evaluation.title, status_id=compliance_status)
    code = (cited[0]["code"] if status == "FAIL" and cited
            else "MEMBER_NO_ANALYZER" if status == "FAIL" else status)
    references = [s.url for s in control.sources] if control else None
    event = _CloudComplianceFinding(
        # OCSF's caption; the library defaults to its enum's name, "ComplianceFinding".
        class_name="Compliance Finding",
        metadata=events.metadata(uid, code), activity_id=ActivityID.Create,
        activity_name=ActivityID.Create.name, type_uid=ComplianceFindingTypeID.Create,
        type_name="Compliance Finding: Create", time=events.time, severity_id=severity,
        severity=severity.name, status_id=finding_status, status=finding_status.name,
        status_detail=detail, message=title, compliance=compliance,
        finding_info=FindingInformation(uid=uid, title=title[:1000], desc=description,
                                        types=["Software and Configuration Checks/Industry "
                                               "and Regulatory Standards"]),
        remediation=Remediation(desc=fix, references=references) if fix else None,
        cloud=events.cloud(evaluation.account_id, evaluation.region, evaluation.account_name),
        resources=[ResourceDetails(
            type="AWS::::Account", uid=evaluation.account_id,
            name=evaluation.account_name, region=evaluation.region,
            cloud_partition=events.partition)])
    return _plain(event)


def _detection_event(events: _Events, finding: Finding) -> dict[str, Any]:
    """One Access Analyzer finding as a validated OCSF Detection Finding."""
    access = access_of(finding["is_public"], finding["error"])
    severity, kind, fix = _ACCESS[access]
    resource = finding["resource"] or "(resource not named)"
    label = type_label(finding["resource_type"])
    if access == "public":
        title = f"{label} {resource} is public"
    elif access == "cross_account":
        who = ", ".join(f"{k}: {v}" for k, v in finding["principal"].items()) or "a principal"
        title = f"{label} {resource} is shared outside the zone of trust with {who}"
    else:
        title = f"{label} {resource} could not be analyzed: {finding['error']}"
    uid = f"{finding['analyzer_arn']}/finding/{finding['id']}"
    status = _FINDING_STATUS.get(finding["status"], StatusID.Other)
    created = _millis(finding["created_at"])
    event = DetectionFinding(
        metadata=events.metadata(uid, "ACCESS_ANALYZER_FINDING"),
        activity_id=ActivityID.Create, activity_name=ActivityID.Create.name,
        type_uid=DetectionFindingTypeID.Create, type_name="Detection Finding: Create",
        time=events.time, severity_id=severity, severity=severity.name,
        status_id=status, status=status.name, status_code=finding["status"],
        status_detail=finding["error"], message=title,
        finding_info=FindingInformation(
            uid=uid, title=title[:1000], types=[f"IAM Access Analyzer/{kind}"],
            desc=(f"IAM Access Analyzer (external access) reports that {label} {resource} in "
                  f"{finding['region']}, owned by account "
                  f"{finding['resource_owner_account'] or 'unknown'}, grants "
                  f"{', '.join(finding['action']) or 'access'} ({kind.lower()})."),
            created_time=created, modified_time=_millis(finding["updated_at"]),
            first_seen_time=_millis(finding.get("first_seen_at")) or created,
            last_seen_time=_millis(finding["analyzed_at"]),
            analytic=Analytic(name=finding["analyzer_arn"].rsplit("/", 1)[-1],
                              uid=finding["analyzer_arn"], type="Rule", type_id=1)),
        remediation=Remediation(desc=fix),
        cloud=events.cloud(finding["resource_owner_account"], finding["region"]),
        resources=[ResourceDetails(uid=finding["resource"], name=finding["resource"],
                                   type=finding["resource_type"], region=finding["region"],
                                   cloud_partition=events.partition)],
        evidences=[EvidenceArtifacts(name="access granted", data={
            "principal": finding["principal"], "action": finding["action"],
            "condition": finding["condition"], "is_public": finding["is_public"],
            "access": access})])
    return _plain(event)


def ocsf_events(document: ScanDocument) -> Iterator[dict[str, Any]]:
    """Every event of the document, validated by the library's models, as JSON values: the
    compliance findings (organization checks, regions, member cells), then the detection
    findings."""
    events = _Events(document)
    for evaluation in evaluations(document):
        if evaluation.status == "SKIPPED":
            continue
        if evaluation.kind == "organization":
            yield _compliance_event(events, evaluation, None)
        else:
            for control in evaluation.controls:
                yield _compliance_event(events, evaluation, control)
    for finding in document["findings"]:
        yield _detection_event(events, finding)


def write_ocsf(document: ScanDocument, directory: Path, *,
               integrity: Integrity | None = None) -> Path:
    """Write directory/findings.ocsf.json atomically: a JSON array, one event a line."""
    def write(stream: IO[bytes]) -> None:
        stream.write(b"[")
        for index, event in enumerate(ocsf_events(document)):
            stream.write(b",\n" if index else b"\n")
            # ASCII: a lone surrogate from AWS stays a valid escape, never invalid UTF-8.
            stream.write(_ENCODE(event).encode("ascii"))
        stream.write(b"\n]\n")

    return write_atomic(directory / FILE_NAME, write)
