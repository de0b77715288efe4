"""--notify-sns: a short plain-text summary to an SNS topic when something changed.

A write to AWS made only when asked (like the evidence pack's signature and upload): the
scan itself stays read-only. config/iam-policy.json grants sns:Publish in a statement of its
own, which a read-only deployment leaves out. A failed publish is logged; it never changes
what the scan found or its exit code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reports.console import changes_line
from reports.document.exceptions import verdict_text
from reports.document.rules import one_line
from reports.document.schema import ScanDocument

from .aws import attempt
from .model import ApiError

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

log = logging.getLogger("aa_scan")
SUBJECT_LIMIT = 100  # SNS rejects longer subjects


def changed(document: ScanDocument) -> bool:
    """Whether there is anything to tell: a change since a baseline. A changed requirement,
    a history that could not be used, and what could not be compared (the new-* gates count
    it as new) are news too."""
    found = document.get("changes")
    if found is None:
        return False
    if found.get("history_error"):
        return True
    if found["baseline"] is None:
        return False
    untold = found.get("not_compared") or {"gaps": 0, "public_findings": 0}
    return (any(found["counts"].values()) or bool(found.get("requirement"))
            or bool(untold["gaps"]) or bool(untold["public_findings"]))


def message(document: ScanDocument, reports: Sequence[Path]) -> tuple[str, str]:
    """(subject, body): the verdict, the changes line and where the reports are."""
    organization = document["organization"]["id"] or "unknown organization"
    # Never a plain COMPLIANT when it rests on exceptions.
    verdict = verdict_text(document["summary"]["verdict"], document["summary"].get("accepted"))
    since = changes_line(document) or ""
    subject = one_line(f"aa-scan: {verdict} for {organization}")[:SUBJECT_LIMIT]
    lines = [f"IAM Access Analyzer coverage of {organization}: {verdict}.", one_line(since)]
    summary = document["summary"]
    lines.append(f"Regions: {summary['covered']} covered, {summary['gaps']} with gaps, "
                 f"{summary['errors']} not assessed.")
    lines.append(f"Run {document.get('run_id', '')} started {document['started_at']}.")
    lines += ["Reports:", *(f"  {path}" for path in reports)]
    return subject, "\n".join(line for line in lines if line)


def publish(sns: SNSClient, topic_arn: str, document: ScanDocument,
            reports: Sequence[Path]) -> ApiError | None:
    """Publish when something changed; the error, if the publish failed."""
    if not changed(document):
        log.info("nothing changed since the baseline: nothing published to %s", topic_arn)
        return None
    subject, body = message(document, reports)
    result = attempt("sns:Publish", lambda: sns.publish(TopicArn=topic_arn, Subject=subject,
                                                        Message=body))
    if isinstance(result, ApiError):
        log.error("could not publish to %s: %s", topic_arn, result)
        return result
    log.info("published the summary to %s", topic_arn)
    return None
