"""--security-hub: the coverage gaps as AWS Security Hub findings (ASFF), opt-in.

Where they go: BatchImportFindings accepts a customer's own findings only under the default
product of the calling account, in the region called. So every finding goes to the caller's
own account (`AwsAccountId`, the scanning account), under
arn:<partition>:securityhub:<home region>:<account>:product/<account>/default, in the
Security Hub of the home region (--home-region, else the profile's, else us-east-1): one
place, whatever region a gap is about (named in Resources[0].Region and the title), which
Security Hub's cross-region aggregation then shows with the rest.

What is imported, batched at the API's 100 findings a call:
- each gap of the scan as FAILED, its controls in Compliance.RelatedRequirements, its
  remediation command, the region and the account; its `Id` is the gap's identity from run
  to run (organization, scope, region, code, analyzer type), so a re-run updates the same
  finding instead of adding one;
- each finding an earlier import left FAILED whose gap is gone from a scan that looked
  there again, as PASSED (INFORMATIONAL). How a closed gap is known: Security Hub itself is
  asked (GetFindings: this product, this generator, FAILED), not the history, so a gap that
  closed while runs without --security-hub ran, or whose import failed, is closed all the
  same. A gap in a region this scan did not assess (an error, excluded) is left as it was:
  not seen is not fixed.

Advisories are not imported (they are not gaps). A failure (Security Hub not enabled in the
region, access denied, a finding refused) is a SecurityHubError: the run exits 2 with one
line, after its reports and the other opt-in writes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from reports.document.evaluations import (
    ORGANIZATION_CHECKS,
    Evaluation,
    acceptance,
    evaluations,
    requirement,
    scope_key,
)
from reports.document.rules import utc_text
from reports.document.schema import Gap, ScanDocument

if TYPE_CHECKING:
    from mypy_boto3_securityhub import SecurityHubClient

log = logging.getLogger("aa_scan")

SCHEMA_VERSION = "2018-10-08"
BATCH = 100  # findings per BatchImportFindings: the API's limit
GENERATOR = "aa-scan/coverage"
MAX_REQUIREMENTS = 32  # Compliance.RelatedRequirements holds at most 32
_SEVERITY = {"CRITICAL": "CRITICAL", "HIGH": "HIGH", "MEDIUM": "MEDIUM", "LOW": "LOW",
             "INFO": "INFORMATIONAL"}
_TYPES_CIS = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS " \
             "Foundations Benchmark"
_TYPES = "Software and Configuration Checks/AWS Security Best Practices"


class SecurityHubError(Exception):
    """The findings could not be imported (or not all of them)."""


@dataclass(frozen=True)
class Target:
    """Where the findings go: the caller's account, its default product, one region."""

    account: str
    region: str
    partition: str

    @property
    def product_arn(self) -> str:
        return (f"arn:{self.partition}:securityhub:{self.region}:{self.account}:product/"
                f"{self.account}/default")


@dataclass(frozen=True)
class Imported:
    """What one import did."""

    failed: int  # gaps imported as FAILED
    passed: int  # earlier FAILED findings closed (PASSED)
    calls: int  # BatchImportFindings calls


def gap_id(document: ScanDocument, gap: Gap) -> str:
    """A gap's finding id, the same from run to run: its identity in the history (scope,
    region, code, analyzer type), under the organization."""
    return (f"aa-scan/{scope_key(document)}/{gap['scope']}/{gap['region'] or 'organization'}/"
            f"{gap['code']}/{gap.get('analyzer_type') or 'any'}")


def _now() -> str:
    return utc_text(dt.datetime.now(dt.UTC))


def _asff(document: ScanDocument, gap: Gap, target: Target, created: str | None,
          now: str) -> dict[str, Any]:
    """One gap as an ASFF finding, FAILED."""
    refs = gap.get("controls", [])
    requirements = list(dict.fromkeys(requirement(r) for r in refs))[:MAX_REQUIREMENTS]
    region = gap["region"] or target.region
    accepted = acceptance(gap)
    description = gap["detail"] + (f" ({accepted})" if accepted else "")
    fix = " ".join(p for p in (gap["remediation"], gap["remediation_note"]) if p)
    finding: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": gap_id(document, gap),
        "ProductArn": target.product_arn,
        "GeneratorId": GENERATOR,
        "AwsAccountId": target.account,
        "Types": [_TYPES_CIS if any(r["framework"].startswith("CIS") for r in refs)
                  else _TYPES],
        "CreatedAt": created or document["started_at"],
        "UpdatedAt": now,
        "Severity": {"Label": _SEVERITY[gap["severity"]], "Original": gap["severity"]},
        "Title": gap["title"][:256],
        "Description": description[:1024],
        "Remediation": {"Recommendation": {"Text": fix[:512]}},
        "ProductFields": {"aa-scan/code": gap["code"], "aa-scan/scope": gap["scope"],
                          "aa-scan/region": gap["region"] or "organization",
                          "aa-scan/analyzer_type": gap.get("analyzer_type") or "any",
                          "aa-scan/run_id": str(document.get("run_id") or "")},
        "Resources": [{"Type": "AwsAccount", "Id": f"AWS::::Account:{target.account}",
                       "Partition": target.partition, "Region": region}],
        "Compliance": {"Status": "FAILED"},
        "RecordState": "ACTIVE",
    }
    if requirements:
        finding["Compliance"]["RelatedRequirements"] = requirements
    return finding


def _closed(earlier: Mapping[str, Any], now: str, run_id: str) -> dict[str, Any]:
    """An earlier FAILED finding whose gap is gone, as PASSED."""
    fields = {k: v for k, v in (earlier.get("ProductFields") or {}).items()
              if k.startswith("aa-scan/")}
    fields["aa-scan/run_id"] = run_id
    compliance: dict[str, Any] = {"Status": "PASSED"}
    related = (earlier.get("Compliance") or {}).get("RelatedRequirements")
    if related:
        compliance["RelatedRequirements"] = related
    closed: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION, "Id": earlier["Id"],
        "ProductArn": earlier["ProductArn"], "GeneratorId": GENERATOR,
        "AwsAccountId": earlier["AwsAccountId"], "Types": earlier.get("Types") or [_TYPES],
        "CreatedAt": earlier["CreatedAt"], "UpdatedAt": now,
        "Severity": {"Label": "INFORMATIONAL", "Original": "CLOSED"},
        "Title": str(earlier.get("Title", ""))[:256],
        "Description": (f"Closed: no longer found by aa-scan run {run_id}, which assessed "
                        f"it again. {earlier.get('Description', '')}")[:1024],
        "ProductFields": fields, "Resources": earlier["Resources"],
        "Compliance": compliance, "RecordState": "ACTIVE"}
    return closed


def _looked_again(document: ScanDocument, earlier: Mapping[str, Any],
                  checks: Sequence[Evaluation]) -> bool:
    """Whether this scan assessed again what an earlier finding was about: its region
    (covered, a gap, or no longer enabled), or its organization check (answered)."""
    fields = earlier.get("ProductFields") or {}
    region, code = fields.get("aa-scan/region"), fields.get("aa-scan/code")
    if region == "organization":
        return any(c.status in ("PASS", "FAIL") for c in checks
                   if c.kind == "organization" and any(
                       code in k.codes for k in ORGANIZATION_CHECKS if k.key == c.name))
    status = {r["region"]: r["status"] for r in document["regions"]}.get(str(region))
    return status in ("COVERED", "GAP", "NOT_ENABLED")


def _pages(client: SecurityHubClient, target: Target) -> Iterator[Mapping[str, Any]]:
    """Every finding of aa-scan's coverage generator under the target's product, in the
    target's account, ACTIVE (filtered again here: what GetFindings was asked is what is
    kept, whatever the service answered)."""
    filters: Any = {
        "ProductArn": [{"Value": target.product_arn, "Comparison": "EQUALS"}],
        "GeneratorId": [{"Value": GENERATOR, "Comparison": "EQUALS"}],
        "AwsAccountId": [{"Value": target.account, "Comparison": "EQUALS"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}]}
    for page in client.get_paginator("get_findings").paginate(
            Filters=filters, PaginationConfig={"PageSize": 100}):
        for finding in page["Findings"]:
            if (finding.get("ProductArn") == target.product_arn
                    and finding.get("GeneratorId") == GENERATOR
                    and finding.get("AwsAccountId") == target.account
                    and finding.get("RecordState", "ACTIVE") == "ACTIVE"):
                yield finding


def _error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc)


def import_gaps(client: SecurityHubClient, document: ScanDocument, target: Target
                ) -> Imported:
    """Import the document's gaps (FAILED) and close the earlier ones it no longer has
    (PASSED); SecurityHubError when Security Hub refuses any of it."""
    now = _now()
    prefix = f"aa-scan/{scope_key(document)}/"
    try:
        earlier = {f["Id"]: f for f in _pages(client, target) if f["Id"].startswith(prefix)}
    except (ClientError, BotoCoreError) as exc:
        raise SecurityHubError(f"--security-hub: GetFindings in {target.region} failed: "
                               f"{_error(exc)}") from None
    findings = [_asff(document, gap, target, earlier.get(gap_id(document, gap), {}).get(
        "CreatedAt"), now) for gap in document["gaps"]]
    current = {f["Id"] for f in findings}
    checks = evaluations(document)
    run_id = str(document.get("run_id") or "")
    closed = [_closed(f, now, run_id) for i, f in sorted(earlier.items())
              if i not in current and (f.get("Compliance") or {}).get("Status") == "FAILED"
              and _looked_again(document, f, checks)]
    batch = [*findings, *closed]
    calls = 0
    for start in range(0, len(batch), BATCH):
        chunk = batch[start:start + BATCH]
        try:
            answer = client.batch_import_findings(Findings=chunk)  # type: ignore[arg-type]
        except (ClientError, BotoCoreError) as exc:
            raise SecurityHubError(
                f"--security-hub: BatchImportFindings in {target.region} failed after "
                f"{start} of {len(batch)} finding(s): {_error(exc)}") from None
        calls += 1
        if answer["FailedCount"]:
            first = answer["FailedFindings"][0]
            raise SecurityHubError(
                f"--security-hub: {answer['FailedCount']} of {len(chunk)} finding(s) of a "
                f"batch were refused ({first.get('Id')}: {first.get('ErrorCode')}: "
                f"{first.get('ErrorMessage')})")
    return Imported(len(findings), len(closed), calls)
