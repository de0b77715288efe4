"""Analyzers, archive rules and findings statistics of one region."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Analyzer, ArchiveRule, FindingsStatistics, TypeStatistics

if TYPE_CHECKING:
    from mypy_boto3_accessanalyzer import AccessAnalyzerClient


def list_analyzers(client: AccessAnalyzerClient) -> tuple[tuple[Analyzer, ...], int]:
    """Every analyzer of the scanning account in the client's region, and the pages read."""
    analyzers: list[Analyzer] = []
    pages = 0
    for page in client.get_paginator("list_analyzers").paginate():
        pages += 1
        for item in page.get("analyzers", []):
            status = item.get("statusReason")
            reason = status["code"] if status else None
            analyzers.append(Analyzer(
                name=item["name"], arn=item["arn"], type=item["type"], status=item["status"],
                status_reason=reason, created_at=item.get("createdAt"),
                managed_by=item.get("managedBy")))
    return tuple(analyzers), pages


def list_archive_rules(client: AccessAnalyzerClient, analyzer: Analyzer
                       ) -> tuple[tuple[ArchiveRule, ...], int]:
    """The analyzer's archive rules, and how many pages it took."""
    rules: list[ArchiveRule] = []
    pages = 0
    for page in client.get_paginator("list_archive_rules").paginate(analyzerName=analyzer.name):
        pages += 1
        rules.extend(
            ArchiveRule(analyzer_arn=analyzer.arn, name=item["ruleName"],
                        filter=item.get("filter") or {}, created_at=item.get("createdAt"),
                        updated_at=item.get("updatedAt"))
            for item in page.get("archiveRules", []))
    return tuple(rules), pages


def findings_statistics(client: AccessAnalyzerClient, analyzer: Analyzer) -> FindingsStatistics:
    """The external-access findings the analyzer counts, per status and resource type (all
    None when the answer holds no external-access statistics)."""
    response = client.get_findings_statistics(analyzerArn=analyzer.arn)
    for entry in response.get("findingsStatistics", []):
        external = entry.get("externalAccessFindingsStatistics")
        if external is None:
            continue
        by_type: dict[str, TypeStatistics] = {
            resource_type: TypeStatistics(
                active_public=int(stats.get("totalActivePublic") or 0),
                active_cross_account=int(stats.get("totalActiveCrossAccount") or 0),
                active_errors=int(stats.get("totalActiveErrors") or 0))
            for resource_type, stats in (external.get("resourceTypeStatistics") or {}).items()
        }
        return FindingsStatistics(
            active=external.get("totalActiveFindings"),
            archived=external.get("totalArchivedFindings"),
            resolved=external.get("totalResolvedFindings"),
            by_type=by_type)
    return FindingsStatistics(active=None, archived=None, resolved=None)
