"""Internal-access and unused-access analyzers: their statistics and ListFindingsV2 pages.

These analyses are reported beside external access, never counted with it. Statistics come
from GetFindingsStatistics' internal-access shape (per resource type and status) or
unused-access shape (per finding type, and the accounts with the most findings); findings
from ListFindingsV2, whose summary is all a report lists (no GetFindingV2 per finding).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from reports.document.rules import Analysis, analysis_of

from ..model import (
    AccountUnusedAccess,
    AnalysisFinding,
    AnalysisStatistics,
    Analyzer,
    ApiError,
    StatusCounts,
)
from .findings import finding_record

if TYPE_CHECKING:
    from mypy_boto3_accessanalyzer import AccessAnalyzerClient

# Analyses read beside external access (which scanner.collect.findings reads).
OTHER_ANALYSES = (Analysis.INTERNAL_ACCESS, Analysis.UNUSED_ACCESS)


def analysis_analyzers(analyzers: Iterable[Analyzer]) -> list[Analyzer]:
    """The ACTIVE internal-access and unused-access analyzers of a region (a type this
    version does not know is listed by the reports, never read)."""
    return [a for a in analyzers if a.status == "ACTIVE" and analysis_of(a.type) in
            OTHER_ANALYSES]


def _int(value: Any) -> int:
    return int(value or 0)


def analysis_statistics(client: AccessAnalyzerClient, analyzer: Analyzer
                        ) -> AnalysisStatistics | None:
    """The analyzer's statistics; None when the answer holds no shape of its analysis."""
    response = client.get_findings_statistics(analyzerArn=analyzer.arn)
    for entry in response.get("findingsStatistics", []):
        internal = entry.get("internalAccessFindingsStatistics")
        if internal is not None:
            return AnalysisStatistics(
                active=internal.get("totalActiveFindings"),
                archived=internal.get("totalArchivedFindings"),
                resolved=internal.get("totalResolvedFindings"),
                by_resource_type={
                    resource_type: StatusCounts(
                        _int(stats.get("totalActiveFindings")),
                        _int(stats.get("totalArchivedFindings")),
                        _int(stats.get("totalResolvedFindings")))
                    for resource_type, stats in
                    (internal.get("resourceTypeStatistics") or {}).items()})
        unused = entry.get("unusedAccessFindingsStatistics")
        if unused is not None:
            by_type: dict[str, int] = {}
            for item in unused.get("unusedAccessTypeStatistics") or ():
                kind = item.get("unusedAccessType") or "UNKNOWN"
                by_type[kind] = by_type.get(kind, 0) + _int(item.get("total"))
            return AnalysisStatistics(
                active=unused.get("totalActiveFindings"),
                archived=unused.get("totalArchivedFindings"),
                resolved=unused.get("totalResolvedFindings"),
                by_finding_type=by_type,
                by_account=tuple(
                    AccountUnusedAccess(str(item.get("account") or ""),
                                        _int(item.get("numberOfActiveFindings")),
                                        {str(k): _int(v) for k, v in
                                         (item.get("details") or {}).items()})
                    for item in unused.get("topAccounts") or ()))
    return None


def shortfall(statistics: AnalysisStatistics | None, findings: Iterable[AnalysisFinding],
              statuses: tuple[str, ...]) -> ApiError | None:
    """Fewer ACTIVE findings read than the analyzer's own statistics announce (as for external
    access: the list is then known to be incomplete)."""
    if statistics is None or statistics.active is None or "ACTIVE" not in statuses:
        return None
    read = sum(1 for f in findings if f["status"] == "ACTIVE")
    if read >= statistics.active:
        return None
    return ApiError("FindingsShortfall", f"GetFindingsStatistics reports {statistics.active} "
                    f"active findings but {read} were read", "access-analyzer:ListFindingsV2")


def read_v2_page(client: AccessAnalyzerClient, analyzer: Analyzer, region: str,
                 statuses: tuple[str, ...], token: str | None, page_size: int
                 ) -> tuple[list[AnalysisFinding], str | None]:
    """One ListFindingsV2 page of the analyzer's findings in the given statuses."""
    request: dict[str, Any] = {"analyzerArn": analyzer.arn, "maxResults": page_size,
                               "filter": {"status": {"eq": list(statuses)}}}
    if token:
        request["nextToken"] = token
    response = client.list_findings_v2(**request)
    region = sys.intern(region)
    arn = sys.intern(analyzer.arn)
    findings = [finding_record(item, region, arn, kind={
        "finding_type": sys.intern(item.get("findingType") or "UNKNOWN"),
    }) for item in response.get("findings", [])]
    return cast(list[AnalysisFinding], findings), response.get("nextToken")
