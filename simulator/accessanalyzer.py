"""A simulated IAM Access Analyzer: analyzers, archive rules and findings per account and region.

State lives in memory; the REST-JSON wire format is handled by `protocol.RestJsonService`,
so this module only implements the behaviour of each operation: ownership checks, filters
(eq/neq/contains/exists on the documented filter keys), sorting, opaque page tokens with a
page-size cap, statistics. Query results are cached per (analyzer, filter, sort) so walking
100,000 findings page by page stays linear.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .protocol import Call, RestJsonService, ServiceError, validation_error

EXTERNAL_ACCESS_TYPES = frozenset({"ACCOUNT", "ORGANIZATION"})
INTERNAL_ACCESS_TYPES = frozenset({"ACCOUNT_INTERNAL_ACCESS", "ORGANIZATION_INTERNAL_ACCESS"})
UNUSED_ACCESS_TYPES = frozenset({"ACCOUNT_UNUSED_ACCESS", "ORGANIZATION_UNUSED_ACCESS"})
# FindingType values of an unused-access analyzer's findings (the rest of the enum is
# ExternalAccess and InternalAccess, one per analysis).
UNUSED_FINDING_TYPES = ("UnusedIAMRole", "UnusedIAMUserAccessKey", "UnusedIAMUserPassword",
                        "UnusedPermission")
ORGANIZATION_TYPES = frozenset(
    {"ORGANIZATION", "ORGANIZATION_UNUSED_ACCESS", "ORGANIZATION_INTERNAL_ACCESS"}
)
SCALAR_FILTER_KEYS = frozenset(
    {"resource", "resourceType", "resourceOwnerAccount", "isPublic", "status", "error", "id",
     "findingType"}
)
SORT_KEYS = frozenset(
    {"resource", "resourceType", "resourceOwnerAccount", "isPublic", "status", "error", "id",
     "createdAt", "updatedAt", "analyzedAt", "findingType"}
)


class OrgDirectory(Protocol):
    """What the service needs to know about the organization (provided by the world)."""

    def organization_analyzer_denial(self, account_id: str) -> str | None:
        """None if the account may create an organization analyzer, else the reason why not."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Analyzer:
    account_id: str
    region: str
    name: str
    type: str
    status: str = "ACTIVE"
    status_reason: str | None = None
    created_at: dt.datetime = field(default_factory=now)
    tags: dict[str, str] = field(default_factory=dict)
    archive_rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0
    # The service principal of a service-linked analyzer (e.g. securityhub.amazonaws.com);
    # None for the customer's own, which AWS answers without the key.
    managed_by: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:access-analyzer:{self.region}:{self.account_id}:analyzer/{self.name}"

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "arn": self.arn,
            "name": self.name,
            "type": self.type,
            "createdAt": self.created_at,
            "status": self.status,
            "tags": self.tags,
        }
        if self.managed_by:
            out["managedBy"] = self.managed_by
        if self.status_reason:
            out["statusReason"] = {"code": self.status_reason}
        if self.findings:
            latest = max(self.findings, key=lambda f: f["analyzedAt"])
            out["lastResourceAnalyzed"] = latest.get("resource")
            out["lastResourceAnalyzedAt"] = latest["analyzedAt"]
        return out


def make_finding(
    *,
    resource: str,
    resource_type: str,
    owner: str,
    is_public: bool,
    principal: dict[str, str] | None = None,
    action: list[str] | None = None,
    condition: dict[str, str] | None = None,
    status: str = "ACTIVE",
    created_at: dt.datetime | None = None,
    updated_at: dt.datetime | None = None,
    analyzed_at: dt.datetime | None = None,
    error: str | None = None,
    finding_id: str | None = None,
    sources: list[dict[str, Any]] | None = None,
    finding_type: str = "ExternalAccess",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A finding as the service stores it (FindingSummary member names, plus findingType and
    the members of its FindingDetails entry that the summary has no room for: accessType,
    principalType, lastAccessed, accessKeyId, serviceNamespace, actions ...)."""
    created = created_at or now()
    finding: dict[str, Any] = {
        "id": finding_id or str(uuid.uuid4()),
        "resource": resource,
        "resourceType": resource_type,
        "resourceOwnerAccount": owner,
        "isPublic": is_public,
        "principal": principal or {},
        "action": action or [],
        "condition": condition or {},
        "status": status,
        "createdAt": created,
        "updatedAt": updated_at or created,
        "analyzedAt": analyzed_at or updated_at or created,
    }
    if error:
        finding["error"] = error
    if sources:
        finding["sources"] = sources
    finding["findingType"] = finding_type
    if details:
        finding["details"] = details
    return finding


def finding_details(finding: dict[str, Any]) -> list[dict[str, Any]]:
    """GetFindingV2's findingDetails: one union entry, chosen by the finding's type."""
    details = finding.get("details") or {}
    kind = finding.get("findingType", "ExternalAccess")
    if kind == "ExternalAccess":
        return [{"externalAccessDetails": {
            "action": finding.get("action") or [], "condition": finding.get("condition") or {},
            "isPublic": finding.get("isPublic"), "principal": finding.get("principal") or {},
            "sources": finding.get("sources")}}]
    if kind == "InternalAccess":
        return [{"internalAccessDetails": {
            "action": finding.get("action") or [], "condition": finding.get("condition") or {},
            "principal": finding.get("principal") or {}, **details}}]
    member = {"UnusedIAMRole": "unusedIamRoleDetails",
              "UnusedIAMUserAccessKey": "unusedIamUserAccessKeyDetails",
              "UnusedIAMUserPassword": "unusedIamUserPasswordDetails",
              "UnusedPermission": "unusedPermissionDetails"}.get(kind)
    return [{member: dict(details)}] if member else []


class _Tokens:
    """Opaque, tamper-evident page tokens bound to the query they continue."""

    def __init__(self) -> None:
        self._secret = uuid.uuid4().bytes

    def issue(self, query_key: str, offset: int) -> str:
        body = json.dumps({"q": query_key, "o": offset}, separators=(",", ":")).encode()
        mac = hashlib.blake2s(body, key=self._secret, digest_size=8).digest()
        return base64.urlsafe_b64encode(mac + body).decode("ascii")

    def read(self, token: str, query_key: str) -> int:
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
            mac, body = raw[:8], raw[8:]
            if hashlib.blake2s(body, key=self._secret, digest_size=8).digest() != mac:
                raise ValueError("bad mac")
            decoded = json.loads(body)
            if decoded["q"] != query_key:
                raise ValueError("token for another query")
            return int(decoded["o"])
        except (ValueError, KeyError, TypeError, UnicodeError):
            raise validation_error("Invalid nextToken", "nextToken") from None


def _filter_value(finding: dict[str, Any], key: str) -> str | None:
    if key.startswith("principal."):
        return finding.get("principal", {}).get(key[len("principal."):])
    if key.startswith("condition."):
        return finding.get("condition", {}).get(key[len("condition."):])
    value = finding.get(key)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if value is None else str(value)


def compile_filter(criteria: dict[str, dict[str, Any]]) -> Callable[[dict[str, Any]], bool]:
    """A predicate for a FilterCriteriaMap; rejects unknown keys as the service does."""
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for key, criterion in criteria.items():
        if not (key in SCALAR_FILTER_KEYS or key.startswith(("principal.", "condition."))):
            raise validation_error(f"Invalid filter key: {key}", f"filter.{key}")
        if not criterion:
            raise validation_error(f"Empty criterion for filter key {key}", f"filter.{key}")
        checks.append(_criterion_check(key, criterion))
    return lambda finding: all(check(finding) for check in checks)


def _criterion_check(key: str, criterion: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    eq = set(criterion.get("eq") or ())
    neq = set(criterion.get("neq") or ())
    contains = list(criterion.get("contains") or ())
    exists = criterion.get("exists")

    def check(finding: dict[str, Any]) -> bool:
        value = _filter_value(finding, key)
        if eq and value not in eq:
            return False
        if neq and value in neq:
            return False
        if contains and (value is None or not any(part in value for part in contains)):
            return False
        return not (exists is not None and (value is not None) != exists)

    return check


def _sort_key(attribute: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    def key(finding: dict[str, Any]) -> tuple[Any, ...]:
        value = finding.get(attribute)
        if isinstance(value, dt.datetime):
            value = value.timestamp()
        # Missing values sort first; the id breaks ties so the order is total and stable.
        return (value is not None, value if value is not None else "", finding["id"])

    return key


class AccessAnalyzerService:
    """Behaviour of the Access Analyzer operations over an in-memory store."""

    def __init__(
        self,
        directory: OrgDirectory,
        page_size_cap: int = 100,
    ) -> None:
        self.directory = directory
        self.page_size_cap = page_size_cap
        self._lock = threading.RLock()
        # (account, region) -> name -> analyzer: ListAnalyzers reads one place, not the whole
        # store (an organization of 1,000 accounts holds tens of thousands of analyzers).
        self._analyzers: dict[tuple[str, str], dict[str, Analyzer]] = {}
        self._query_cache: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
        self._tokens = _Tokens()
        self.protocol = RestJsonService(
            "accessanalyzer",
            {
                "ListAnalyzers": self.list_analyzers,
                "GetAnalyzer": self.get_analyzer,
                "CreateAnalyzer": self.create_analyzer,
                "DeleteAnalyzer": self.delete_analyzer,
                "ListArchiveRules": self.list_archive_rules,
                "CreateArchiveRule": self.create_archive_rule,
                "DeleteArchiveRule": self.delete_archive_rule,
                "ListFindings": self.list_findings,
                "ListFindingsV2": self.list_findings_v2,
                "GetFinding": self.get_finding,
                "GetFindingV2": self.get_finding_v2,
                "GetFindingsStatistics": self.get_findings_statistics,
            },
        )

    # -- seeding (used by the world; not part of the API) --------------------------------
    def add_analyzer(self, analyzer: Analyzer) -> Analyzer:
        with self._lock:
            self._place(analyzer.account_id, analyzer.region)[analyzer.name] = analyzer
            return analyzer

    def analyzers(self) -> list[Analyzer]:
        with self._lock:
            return [a for place in self._analyzers.values() for a in place.values()]

    def _place(self, account_id: str, region: str) -> dict[str, Analyzer]:
        return self._analyzers.setdefault((account_id, region), {})

    # -- helpers ---------------------------------------------------------------------------
    def _by_name(self, call: Call, name: str) -> Analyzer:
        analyzer = self._analyzers.get((call.account_id, call.region), {}).get(name)
        if analyzer is None:
            raise ServiceError(
                "ResourceNotFoundException", f"Analyzer {name} not found.",
                resourceId=name, resourceType="AWS::AccessAnalyzer::Analyzer",
            )
        return analyzer

    def _by_arn(self, call: Call, arn: str) -> Analyzer:
        parts = arn.split(":", 5)
        name = parts[5].split("/", 1)[1] if len(parts) == 6 and "/" in parts[5] else ""
        analyzer = self._analyzers.get((call.account_id, call.region), {}).get(name)
        if analyzer is None or analyzer.arn != arn:
            raise ServiceError(
                "ResourceNotFoundException", f"Analyzer {arn} not found.",
                resourceId=arn, resourceType="AWS::AccessAnalyzer::Analyzer",
            )
        return analyzer

    def _page(
        self, items: list[Any], params: dict[str, Any], query_key: str
    ) -> tuple[list[Any], str | None]:
        requested = params.get("maxResults")
        if requested is not None and requested < 1:
            raise validation_error("maxResults must be at least 1", "maxResults")
        size = min(requested or self.page_size_cap, self.page_size_cap)
        token = params.get("nextToken")
        start = self._tokens.read(token, query_key) if token else 0
        end = start + size
        next_token = self._tokens.issue(query_key, end) if end < len(items) else None
        return items[start:end], next_token

    # -- analyzers -------------------------------------------------------------------------
    def list_analyzers(self, call: Call) -> dict[str, Any]:
        kind = call.params.get("type")
        with self._lock:
            found = sorted(
                (a for a in self._analyzers.get((call.account_id, call.region), {}).values()
                 if kind is None or a.type == kind),
                # AWS documents no order; by name, not by age, so a client that takes the
                # first one listed is not right by accident.
                key=lambda a: a.name,
            )
        page, token = self._page(found, call.params, f"analyzers|{kind}")
        return {"analyzers": [a.summary() for a in page], "nextToken": token}

    def get_analyzer(self, call: Call) -> dict[str, Any]:
        with self._lock:
            return {"analyzer": self._by_name(call, call.params["analyzerName"]).summary()}

    def create_analyzer(self, call: Call) -> dict[str, Any]:
        params = call.params
        name, kind = params["analyzerName"], params["type"]
        if kind in ORGANIZATION_TYPES:
            denial = self.directory.organization_analyzer_denial(call.account_id)
            if denial:
                raise validation_error(denial, "type")
        with self._lock:
            if name in self._place(call.account_id, call.region):
                raise ServiceError(
                    "ConflictException", f"Analyzer {name} already exists.",
                    resourceId=name, resourceType="AWS::AccessAnalyzer::Analyzer",
                )
            analyzer = Analyzer(call.account_id, call.region, name, kind,
                                tags=dict(params.get("tags") or {}))
            for rule in params.get("archiveRules") or ():
                compile_filter(rule["filter"])
                analyzer.archive_rules[rule["ruleName"]] = {
                    "ruleName": rule["ruleName"], "filter": rule["filter"],
                    "createdAt": now(), "updatedAt": now(),
                }
            self._place(call.account_id, call.region)[name] = analyzer
        return {"arn": analyzer.arn}

    def delete_analyzer(self, call: Call) -> dict[str, Any]:
        with self._lock:
            analyzer = self._by_name(call, call.params["analyzerName"])
            del self._analyzers[(analyzer.account_id, analyzer.region)][analyzer.name]
        return {}

    # -- archive rules ---------------------------------------------------------------------
    def list_archive_rules(self, call: Call) -> dict[str, Any]:
        with self._lock:
            analyzer = self._by_name(call, call.params["analyzerName"])
            rules = sorted(analyzer.archive_rules.values(), key=lambda r: r["ruleName"])
        page, token = self._page(rules, call.params, f"rules|{analyzer.arn}")
        return {"archiveRules": page, "nextToken": token}

    def create_archive_rule(self, call: Call) -> dict[str, Any]:
        compile_filter(call.params["filter"])
        with self._lock:
            analyzer = self._by_name(call, call.params["analyzerName"])
            name = call.params["ruleName"]
            if name in analyzer.archive_rules:
                raise ServiceError("ConflictException", f"Archive rule {name} already exists.",
                                   resourceId=name, resourceType="AWS::AccessAnalyzer::ArchiveRule")
            analyzer.archive_rules[name] = {"ruleName": name, "filter": call.params["filter"],
                                            "createdAt": now(), "updatedAt": now()}
        return {}

    def delete_archive_rule(self, call: Call) -> dict[str, Any]:
        with self._lock:
            analyzer = self._by_name(call, call.params["analyzerName"])
            if analyzer.archive_rules.pop(call.params["ruleName"], None) is None:
                raise ServiceError(
                    "ResourceNotFoundException", "Archive rule not found.",
                    resourceId=call.params["ruleName"],
                    resourceType="AWS::AccessAnalyzer::ArchiveRule")
        return {}

    # -- findings --------------------------------------------------------------------------
    def _query(self, call: Call) -> tuple[Analyzer, list[dict[str, Any]], str]:
        params = call.params
        with self._lock:
            analyzer = self._by_arn(call, params["analyzerArn"])
            if analyzer.type not in EXTERNAL_ACCESS_TYPES and call.operation == "ListFindings":
                raise validation_error(
                    "ListFindings is supported only for external access analyzers; "
                    "use ListFindingsV2.", "analyzerArn")
            criteria = params.get("filter") or {}
            sort = params.get("sort") or {}
            attribute = sort.get("attributeName")
            if attribute is not None and attribute not in SORT_KEYS:
                raise validation_error(f"Invalid sort attribute: {attribute}",
                                       "sort.attributeName")
            query_key = hashlib.sha256(json.dumps(
                [analyzer.arn, criteria, attribute, sort.get("orderBy")], sort_keys=True
            ).encode()).hexdigest()[:24]
            cache_key = (analyzer.arn, analyzer.version, query_key)
            result = self._query_cache.get(cache_key)
            if result is None:
                predicate = compile_filter(criteria)
                result = [f for f in analyzer.findings if predicate(f)]
                result.sort(key=_sort_key(attribute or "createdAt"),
                            reverse=sort.get("orderBy") == "DESC")
                self._query_cache[cache_key] = result
        return analyzer, result, query_key

    def list_findings(self, call: Call) -> dict[str, Any]:
        _, result, query_key = self._query(call)
        page, token = self._page(result, call.params, query_key)
        return {"findings": page, "nextToken": token}

    def list_findings_v2(self, call: Call) -> dict[str, Any]:
        _, result, query_key = self._query(call)
        page, token = self._page(result, call.params, query_key)
        # FindingSummaryV2: the serializer keeps the model's members only (no principal,
        # action or isPublic: those are in GetFindingV2's findingDetails).
        return {"findings": page, "nextToken": token}

    def _finding(self, call: Call) -> tuple[Analyzer, dict[str, Any]]:
        with self._lock:
            analyzer = self._by_arn(call, call.params["analyzerArn"])
            for finding in analyzer.findings:
                if finding["id"] == call.params["id"]:
                    return analyzer, finding
        raise ServiceError("ResourceNotFoundException", f"Finding {call.params['id']} not found.",
                           resourceId=call.params["id"], resourceType="Finding")

    def get_finding(self, call: Call) -> dict[str, Any]:
        analyzer, finding = self._finding(call)
        if analyzer.type not in EXTERNAL_ACCESS_TYPES:
            raise validation_error("GetFinding is supported only for external access analyzers; "
                                   "use GetFindingV2.", "analyzerArn")
        return {"finding": finding}

    def get_finding_v2(self, call: Call) -> dict[str, Any]:
        _, finding = self._finding(call)
        return {**finding, "findingDetails": finding_details(finding)}

    def get_findings_statistics(self, call: Call) -> dict[str, Any]:
        with self._lock:
            analyzer = self._by_arn(call, call.params["analyzerArn"])
            findings = list(analyzer.findings)
        totals = {"ACTIVE": 0, "ARCHIVED": 0, "RESOLVED": 0}
        for finding in findings:
            totals[finding["status"]] = totals.get(finding["status"], 0) + 1
        counts = {"totalActiveFindings": totals["ACTIVE"],
                  "totalArchivedFindings": totals["ARCHIVED"],
                  "totalResolvedFindings": totals["RESOLVED"]}
        if analyzer.type in INTERNAL_ACCESS_TYPES:
            entry = {"internalAccessFindingsStatistics": {
                "resourceTypeStatistics": _internal_statistics(findings), **counts}}
        elif analyzer.type in UNUSED_ACCESS_TYPES:
            entry = {"unusedAccessFindingsStatistics": {
                **_unused_statistics(findings, analyzer.type.startswith("ORGANIZATION")),
                **counts}}
        elif analyzer.type in EXTERNAL_ACCESS_TYPES:
            entry = {"externalAccessFindingsStatistics": {
                "resourceTypeStatistics": _external_statistics(findings), **counts}}
        else:  # an analysis this model has no statistics shape for
            return {"findingsStatistics": [], "lastUpdatedAt": now()}
        return {"findingsStatistics": [entry], "lastUpdatedAt": now()}


def _external_statistics(findings: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    per_type: dict[str, dict[str, int]] = {}
    for finding in findings:
        if finding["status"] != "ACTIVE":
            continue
        stats = per_type.setdefault(
            finding["resourceType"],
            {"totalActivePublic": 0, "totalActiveCrossAccount": 0, "totalActiveErrors": 0},
        )
        if finding.get("error"):
            stats["totalActiveErrors"] += 1
        elif finding.get("isPublic"):
            stats["totalActivePublic"] += 1
        else:
            stats["totalActiveCrossAccount"] += 1
    return per_type


_STATUS_MEMBER = {"ACTIVE": "totalActiveFindings", "ARCHIVED": "totalArchivedFindings",
                  "RESOLVED": "totalResolvedFindings"}


def _internal_statistics(findings: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """InternalAccessResourceTypeStatisticsMap: per resource type, findings per status."""
    per_type: dict[str, dict[str, int]] = {}
    for finding in findings:
        stats = per_type.setdefault(finding["resourceType"], dict.fromkeys(
            _STATUS_MEMBER.values(), 0))
        stats[_STATUS_MEMBER[finding["status"]]] += 1
    return per_type


TOP_ACCOUNTS = 10  # "a list of one to ten accounts that have the most active findings"


def _unused_statistics(findings: list[dict[str, Any]], organization: bool) -> dict[str, Any]:
    """unusedAccessTypeStatistics (active findings per finding type) and, for an organization
    analyzer, topAccounts: the ten accounts with the most active findings."""
    active = [f for f in findings if f["status"] == "ACTIVE"]
    per_type: dict[str, int] = {}
    per_account: dict[str, dict[str, int]] = {}
    for finding in active:
        kind = finding.get("findingType", "")
        per_type[kind] = per_type.get(kind, 0) + 1
        account = per_account.setdefault(finding.get("resourceOwnerAccount") or "", {})
        account[kind] = account.get(kind, 0) + 1
    out: dict[str, Any] = {"unusedAccessTypeStatistics": [
        {"unusedAccessType": kind, "total": total} for kind, total in sorted(per_type.items())]}
    if organization and per_account:
        ranked = sorted(per_account.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        out["topAccounts"] = [
            {"account": account, "numberOfActiveFindings": sum(details.values()),
             "details": details} for account, details in ranked[:TOP_ACCOUNTS]]
    return out


def seed_findings(analyzer: Analyzer, findings: Iterable[dict[str, Any]]) -> None:
    analyzer.findings.extend(findings)
    analyzer.version += 1
