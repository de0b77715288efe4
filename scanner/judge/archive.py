"""The archive rules of the analyzers whose findings were read, judged: a rule that can
archive public findings is an advisory (BROAD_ARCHIVE_RULE), one per rule, naming the regions
it is in (an organization usually deploys the same rule everywhere). Which rules can is the
rule of reports.document.archive_rules, which the inventory in the reports applies too.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from reports.document.archive_rules import RuleAssessment, assess, filter_text
from reports.document.rules import GapCode

from ..model import RegionScan
from .text import Context, make_gap
from .verdicts import Gap


@dataclass
class _Rule:
    """One rule (analyzer name, rule name, filter) and the regions it is in."""

    analyzer: str
    name: str
    filter_text: str
    assessment: RuleAssessment
    owner: str
    regions: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)


def _archived(scan: RegionScan) -> str:
    count = scan.statistics.archived if scan.statistics else None
    return (f"{scan.region}: unknown (GetFindingsStatistics failed)" if count is None
            else f"{scan.region}: {count:,}")


def archive_rule_advisories(scans: Iterable[RegionScan], context: Context) -> list[Gap]:
    """One advisory per archive rule that can archive public findings, most regions first."""
    rules: dict[tuple[str, str, str], _Rule] = {}
    for scan in scans:
        source = scan.findings_analyzer
        if source is None:
            continue
        for rule in scan.archive_rules:
            found = assess(rule.filter)
            if not found.flagged:
                continue
            same = (source.name, rule.name, json.dumps(rule.filter, sort_keys=True, default=str))
            entry = rules.get(same)
            if entry is None:
                entry = rules[same] = _Rule(source.name, rule.name, filter_text(rule.filter),
                                           found, source.account_id or context.admin)
            entry.regions.append(scan.region)
            entry.archived.append(_archived(scan))
    advisories = []
    for entry in sorted(rules.values(), key=lambda e: (-len(e.regions), e.name)):
        pairs = sorted(zip(entry.regions, entry.archived, strict=True))
        entry.regions, entry.archived = [r for r, _ in pairs], [a for _, a in pairs]
        analyzer, name = shlex.quote(entry.analyzer), shlex.quote(entry.name)
        first = entry.regions[0]
        single = len(entry.regions) == 1
        where = (f"in {first}" if single
                 else f"in {len(entry.regions)} regions: {', '.join(entry.regions)}")
        variant = (f"{GapCode.BROAD_ARCHIVE_RULE}:PUBLIC_NAMED"
                   if entry.assessment.rule_class == "public_named" else None)
        region = shlex.quote(first)
        gap = make_gap(
            GapCode.BROAD_ARCHIVE_RULE, "region" if single else "organization", first,
            context, key=variant, name=entry.name, analyzer=entry.analyzer, where=where,
            filter=entry.filter_text, why=entry.assessment.why,
            archived="; ".join(entry.archived), analyzer_arg=analyzer, rule_arg=name,
            owner=entry.owner,
            others="" if single else (f"; the same rule is in {len(entry.regions)} regions: "
                                      "run each command again with --region set to each of "
                                      f"{', '.join(entry.regions)}"),
            archived_command=("aws accessanalyzer list-findings --analyzer-arn "
                              f"$(aws accessanalyzer get-analyzer --analyzer-name {analyzer} "
                              f"--region {region} --query analyzer.arn --output text) "
                              "--filter '{\"status\": {\"eq\": [\"ARCHIVED\"]}}' "
                              f"--region {region}"),
            delete=(f"aws accessanalyzer delete-archive-rule --analyzer-name {analyzer} "
                    f"--rule-name {name} --region {region}"))
        advisories.append(replace(gap, region=first if single else None))
    return advisories
