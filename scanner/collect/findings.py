"""Findings of one analyzer, read as independent streams that partition them exactly.

ListFindings already returns everything a report needs (principal, action, condition,
isPublic), so there is never a GetFinding call per finding. A region with many findings is
split into streams filtered server-side by resource type (see `plan_streams`), so its pages
are read in parallel while no finding is read twice or missed.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from ..aws import utc_text
from ..model import Analyzer, Finding, FindingsStatistics

if TYPE_CHECKING:
    from mypy_boto3_accessanalyzer import AccessAnalyzerClient



@dataclass(frozen=True)
class Stream:
    """One server-side filter; together a region's streams cover every finding once."""

    label: str
    filter: dict[str, dict[str, Any]]
    expected: int  # findings the statistics announce (0 when unknown)


@dataclass(frozen=True)
class _Part:
    types: tuple[str, ...]
    public: dict[str, Any] | None  # an isPublic criterion, for a busy type split three ways
    label: str
    size: int


# A busy type is split on isPublic three ways, so the parts cover every finding whatever the
# service does with a missing attribute (error findings have no isPublic) under "neq".
_PUBLIC_SPLIT: tuple[tuple[dict[str, Any], str], ...] = (
    ({"eq": ["true"]}, "public"), ({"eq": ["false"]}, "not public"),
    ({"exists": False}, "no isPublic"))
MAX_VALUES = 20  # values a filter criterion takes


MIN_STREAM_PAGES = 3  # pages a stream is worth at least, when the streams wanted are known


def plan_streams(statistics: FindingsStatistics | None, statuses: tuple[str, ...],
                 page_size: int, pages_per_stream: int = 10, max_streams: int = 8,
                 wanted: int | None = None) -> list[Stream]:
    """Partition a region's findings into streams that can be paged in parallel.

    A region whose findings fit in a few pages gets one stream: splitting it would cost
    calls (every stream ends with a partly filled page) and save nothing. Larger regions get
    up to `max_streams` streams: `wanted` of them when the driver says how many calls the
    region takes at once (its rate times its round trip), each of at least MIN_STREAM_PAGES
    pages; otherwise one per `pages_per_stream` pages. They are built from resource types (a
    busy type split three ways on isPublic), packed largest first. One stream is the
    complement of the others (resourceType neq [...]), so findings of types the statistics
    did not mention are read too, and no finding is read twice.
    """
    status = {"status": {"eq": list(statuses)}}
    total = statistics.active or 0 if statistics else 0
    by_type = dict(statistics.by_type) if statistics else {}
    sizes = {t: s.active_public + s.active_cross_account + s.active_errors
             for t, s in by_type.items()}
    total = max(total, sum(sizes.values()))
    pages = -(-total // page_size)
    if wanted is not None:
        pages_per_stream = MIN_STREAM_PAGES
        count = min(max_streams, wanted, max(1, pages // pages_per_stream))
    else:
        count = min(max_streams, max(1, pages // pages_per_stream))
    if count == 1 or not sizes:
        return [Stream("all", dict(status), total)]
    target = total / count
    parts: list[_Part] = []
    for resource_type, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        if size == 0:
            continue
        stats = by_type[resource_type]
        public, other = stats.active_public, size - stats.active_public
        splits = sum(1 for p in parts if p.public is not None)
        if (size > target and min(public, other) >= pages_per_stream * page_size
                and splits + len(_PUBLIC_SPLIT) < count):  # keep a stream for the rest
            expected = (public, stats.active_cross_account, stats.active_errors)
            parts.extend(_Part((resource_type,), criterion, f"{resource_type} ({label})", n)
                         for (criterion, label), n in zip(_PUBLIC_SPLIT, expected, strict=True))
        else:
            parts.append(_Part((resource_type,), None, resource_type, size))
    if len({t for p in parts for t in p.types}) > MAX_VALUES:
        return [Stream("all", dict(status), total)]  # more types than a filter can name
    # A split part keeps its own stream (its isPublic filter must not touch other types);
    # whole types are packed largest first into the emptiest of the remaining streams.
    split = [p for p in parts if p.public is not None]
    whole = [p for p in parts if p.public is None]
    bins: list[list[_Part]] = [[] for _ in range(min(len(whole), max(1, count - len(split))))]
    for part in whole:
        min(bins, key=lambda b: sum(p.size for p in b)).append(part)
    bins.sort(key=lambda b: -sum(p.size for p in b))
    rest = bins.pop() if bins else []  # the smallest becomes the complement stream
    streams: list[Stream] = []
    for group in [[p] for p in split] + bins:
        types = [t for p in group for t in p.types]
        criteria: dict[str, dict[str, Any]] = {**status, "resourceType": {"eq": types}}
        if group[0].public is not None:
            criteria["isPublic"] = group[0].public
        streams.append(Stream(", ".join(p.label for p in group), criteria,
                              sum(p.size for p in group)))
    named = list(dict.fromkeys(t for p in split + [p for b in bins for p in b] for t in p.types))
    rest_types = [t for p in rest for t in p.types]
    streams.append(Stream(", ".join([*rest_types, "other types"]),
                          {**status, "resourceType": {"neq": named}} if named else dict(status),
                          sum(p.size for p in rest)))
    return streams


def read_page(client: AccessAnalyzerClient, analyzer: Analyzer, region: str, stream: Stream,
              token: str | None, page_size: int) -> tuple[list[Finding], str | None]:
    """One ListFindings page of a stream, as the model's finding records."""
    request: dict[str, Any] = {"analyzerArn": analyzer.arn, "filter": stream.filter,
                               "maxResults": page_size}
    if token:
        request["nextToken"] = token
    response = client.list_findings(**request)
    region = sys.intern(region)
    arn = sys.intern(analyzer.arn)
    findings = [finding_record(item, region, arn, access={
        "principal": item.get("principal") or {},  # the page's own objects: not copied
        "action": item.get("action") or [],
        "condition": item.get("condition") or {},
        "is_public": item.get("isPublic"),
    }) for item in response.get("findings", [])]
    return cast(list[Finding], findings), response.get("nextToken")


_NOTHING: Mapping[str, Any] = MappingProxyType({})


def finding_record(item: Mapping[str, Any], region: str, analyzer_arn: str, *,
                   kind: Mapping[str, Any] = _NOTHING, access: Mapping[str, Any] = _NOTHING
                   ) -> dict[str, Any]:
    """One finding of a ListFindings or ListFindingsV2 page as the model keeps it (a
    Finding, an AnalysisFinding): the fields the two answers share, read one way, with what
    only one of them has in its place: `kind` after the id (ListFindingsV2's findingType),
    `access` after the resource (ListFindings' principal, action, condition, isPublic)."""
    owner = item.get("resourceOwnerAccount")
    return {
        "region": region,
        "analyzer_arn": analyzer_arn,
        "id": item["id"],
        **kind,
        "resource_type": sys.intern(item.get("resourceType") or "UNKNOWN"),
        "resource": item.get("resource"),
        "resource_owner_account": sys.intern(owner) if owner else None,
        **access,
        "status": sys.intern(item.get("status") or "UNKNOWN"),
        "created_at": utc_text(item.get("createdAt")),
        "updated_at": utc_text(item.get("updatedAt")),
        "analyzed_at": utc_text(item.get("analyzedAt")),
        "error": item.get("error"),
    }
