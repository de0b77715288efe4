"""Scenario files: the organization, regions, analyzers, findings and faults of a simulated world.

A scenario is YAML (or a dict built by `generate.py`). It is validated once, here, into frozen
dataclasses; every problem is reported as one line naming the field, e.g.
`demo.yaml: analyzers[2].type: 'ORG' is not one of ACCOUNT, ORGANIZATION, ...`.
The format is documented in simulator/README.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import string
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import yaml

from reports.document.rules import CLASSIC_RESOURCE_TYPES

from .accessanalyzer import (
    INTERNAL_ACCESS_TYPES,
    SCALAR_FILTER_KEYS,
    UNUSED_ACCESS_TYPES,
    UNUSED_FINDING_TYPES,
    make_finding,
)
from .conditions import Conditions
from .protocol import load_service_model


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the field."""


_AA = load_service_model("accessanalyzer")


def _enum(shape: str) -> tuple[str, ...]:
    found: Any = _AA.shape_for(shape)  # a StringShape with an enum
    return tuple(found.enum)


ANALYZER_TYPES = _enum("Type")
ANALYZER_STATUSES = _enum("AnalyzerStatus")
REASON_CODES = _enum("ReasonCode")
RESOURCE_TYPES = _enum("ResourceType")
FINDING_STATUSES = _enum("FindingStatus")
OPT_IN_STATUSES = ("ENABLED", "ENABLING", "DISABLING", "DISABLED", "ENABLED_BY_DEFAULT")
# Regions launched after March 2019 must be enabled (opted in) before use.
OPT_IN_REGIONS = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2",
    "eu-south-1", "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
})
ACCOUNT_ID = re.compile(r"^\d{12}$")
# `new:ORGANIZATION_FUTURE_THING`: an analyzer type newer than botocore (ListAnalyzers
# answers it; botocore hands the string over as it is).
NEW_TYPE = re.compile(r"^[A-Z][A-Z_]{2,63}$")
INTERNAL_ACCESS_TYPES_ENUM = _enum("InternalAccessType")
PRINCIPAL_TYPES = _enum("PrincipalType")
SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com$")
# The conditions that apply to STS (sts: in a scenario), beside session_seconds.
STS_CONDITIONS = frozenset({"latency_ms", "jitter_ms", "rate_limit", "burst"})


NEW_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def all_regions() -> list[str]:
    return list(_botocore_regions())


@cache
def _botocore_regions() -> tuple[str, ...]:
    """Read once per process: a new botocore session reads its endpoint files again (0.1 s of
    JSON), and every scenario loaded asks."""
    import botocore.session

    return tuple(botocore.session.get_session().get_available_regions("accessanalyzer"))


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    suspended: bool = False  # ListAccounts says SUSPENDED (a closed account)


@dataclass(frozen=True)
class Organization:
    management: Account
    members: tuple[Account, ...]
    trusted_access: bool
    delegated_administrator: str | None
    # Stable across worlds, as a real organization's id is (the history compares runs of
    # one organization): given, or derived from the management account.
    id: str = ""

    @property
    def accounts(self) -> tuple[Account, ...]:
        return (self.management, *self.members)


@dataclass(frozen=True)
class ArchiveRule:
    name: str
    filter: dict[str, Any]


@dataclass(frozen=True)
class AnalyzerSpec:
    account_id: str
    region: str
    name: str
    type: str
    status: str
    status_reason: str | None
    archive_rules: tuple[ArchiveRule, ...]
    findings: tuple[dict[str, Any], ...]
    created_at: dt.datetime | None = None
    managed_by: str | None = None  # a service-linked analyzer's service principal


@dataclass(frozen=True)
class RoleSpec:
    """An IAM role the scanner may assume, e.g. the admin role of --admin-role-name."""

    name: str
    account_ids: tuple[str, ...]
    external_id: str | None = None  # AssumeRole must name it (sts:ExternalId condition)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    organization: Organization | None
    scanner_account: str
    scanner_role: str
    deny_operations: frozenset[str]
    regions: dict[str, str]  # region -> opt-in status, for every region of the world
    conditions: dict[str, Conditions]
    default_conditions: Conditions
    analyzers: tuple[AnalyzerSpec, ...]
    page_size_cap: int
    seed: int
    other_accounts: tuple[Account, ...] = field(default=())
    scanner_credentials_expired: bool = False
    roles: tuple[RoleSpec, ...] = ()
    # Credentials AssumeRole hands the scanner expire after this many seconds (None: as moto
    # says, an hour): for scans that outlast a role session.
    session_seconds: int | None = None
    # How STS answers the scanner (latency, a token-bucket rate limit answered with
    # Throttling, as STS does); the other Conditions fields do not apply to STS.
    sts_conditions: Conditions = field(default_factory=Conditions)

    @property
    def enabled_regions(self) -> list[str]:
        return [r for r, s in self.regions.items() if s in ("ENABLED", "ENABLED_BY_DEFAULT")]

    def conditions_for(self, region: str) -> Conditions:
        return self.conditions.get(region, self.default_conditions)


# -- loading -------------------------------------------------------------------------------


def load_scenario(source: str | Path | Mapping[str, Any]) -> Scenario:
    """Load and validate a scenario from a YAML path or an already-parsed mapping."""
    if isinstance(source, Mapping):
        return _Reader("scenario").scenario(source)
    path = Path(source)
    label = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{label}: not valid YAML{where}: {problem}") from None
    if not isinstance(document, Mapping):
        raise ScenarioError(f"{label}: the top level must be a mapping")
    return _Reader(label).scenario(document)


class _Reader:
    """Validates a parsed scenario document, naming the field of every problem."""

    TOP_KEYS: ClassVar[set[str]] = {
        "name", "description", "seed", "page_size_cap", "organization", "scanner", "regions",
        "conditions", "analyzers", "accounts", "roles", "sts"}

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, where: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.label}: {where}: {message}")

    def keys(self, where: str, value: Any, allowed: AbstractSet[str],
             required: AbstractSet[str] = frozenset()
             ) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        for key in value:
            if key not in allowed:
                import difflib
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(f"{where}.{key}" if where else str(key), f"unknown key{hint}")
        for key in required:
            if key not in value:
                raise self.fail(where or "top level", f"missing required key {key!r}")
        return value

    def choice(self, where: str, value: Any, options: tuple[str, ...] | frozenset[str]) -> str:
        if value not in options:
            raise self.fail(where, f"{value!r} is not one of {', '.join(sorted(options))}")
        return str(value)

    def account_id(self, where: str, value: Any) -> str:
        text = str(value) if isinstance(value, int) else value
        if not isinstance(text, str) or not ACCOUNT_ID.match(text):
            raise self.fail(where, f"{value!r} is not a 12-digit account id (quote it in YAML)")
        return text

    def number(self, where: str, value: Any, low: float = 0.0, high: float | None = None
               ) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"expected a number, got {value!r}")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(where, f"{value!r} must be {bound}")
        return float(value)

    def integer(self, where: str, value: Any, low: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(where, f"expected an integer of at least {low}, got {value!r}")
        return value

    def text(self, where: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, f"expected a non-empty string, got {value!r}")
        return value

    # -- sections ---------------------------------------------------------------------------
    def scenario(self, doc: Mapping[str, Any]) -> Scenario:
        self.keys("", doc, self.TOP_KEYS, {"name"})
        seed = self.integer("seed", doc.get("seed", 0))
        organization = self.organization(doc["organization"]) if doc.get("organization") else None
        others = tuple(self.account(f"accounts[{i}]", a)
                       for i, a in enumerate(self.list_of("accounts", doc.get("accounts", []))))
        scanner = self.keys("scanner", doc.get("scanner") or {},
                            {"account", "role_name", "deny_operations", "credentials"})
        credentials = self.choice("scanner.credentials", scanner.get("credentials", "valid"),
                                  ("valid", "expired"))
        if "account" in scanner:
            scanner_account = self.resolve_account("scanner.account", scanner["account"],
                                                   organization, others)
        elif organization:
            scanner_account = organization.delegated_administrator or organization.management.id
        elif others:
            scanner_account = others[0].id
        else:
            raise self.fail("scanner.account", "required when there is no organization or "
                            "accounts list")
        deny = frozenset(self.text(f"scanner.deny_operations[{i}]", op) for i, op in
                         enumerate(self.list_of("scanner.deny_operations",
                                                scanner.get("deny_operations", []))))
        for i, op in enumerate(sorted(deny)):
            if ":" not in op:
                raise self.fail(f"scanner.deny_operations[{i}]",
                                f"{op!r} must look like service:Operation")
        regions = self.regions(doc.get("regions") or {})
        default_conditions, conditions = self.conditions(doc.get("conditions") or {}, regions)
        rng = random.Random(seed)
        context = _FindingContext(rng, organization, others)
        analyzers = tuple(
            spec
            for i, entry in enumerate(self.list_of("analyzers", doc.get("analyzers", [])))
            for spec in self.analyzer(f"analyzers[{i}]", entry, organization, others, regions,
                                      context)
        )
        seen: set[tuple[str, str, str]] = set()
        for spec in analyzers:
            key = (spec.account_id, spec.region, spec.name)
            if key in seen:
                raise self.fail("analyzers", f"analyzer {spec.name!r} defined twice for account "
                                f"{spec.account_id} in {spec.region}")
            seen.add(key)
        roles = tuple(self.role(f"roles[{i}]", r, organization, others)
                      for i, r in enumerate(self.list_of("roles", doc.get("roles", []))))
        sts = self.keys("sts", doc.get("sts") or {}, {"session_seconds", *STS_CONDITIONS})
        session_seconds = (self.integer("sts.session_seconds", sts["session_seconds"], 1)
                           if sts.get("session_seconds") is not None else None)
        sts_conditions = self.condition("sts", {k: v for k, v in sts.items()
                                                if k in STS_CONDITIONS}, Conditions())
        return Scenario(
            roles=roles,
            session_seconds=session_seconds,
            sts_conditions=sts_conditions,
            name=self.text("name", doc["name"]),
            description=str(doc.get("description", "")),
            organization=organization,
            scanner_account=scanner_account,
            scanner_role=self.text("scanner.role_name", scanner.get("role_name", "AuditRole")),
            deny_operations=deny,
            regions=regions,
            conditions=conditions,
            default_conditions=default_conditions,
            analyzers=analyzers,
            page_size_cap=self.integer("page_size_cap", doc.get("page_size_cap", 100), 1),
            scanner_credentials_expired=credentials == "expired",
            seed=seed,
            other_accounts=others,
        )

    def list_of(self, where: str, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {type(value).__name__}")
        return value

    def role(self, where: str, value: Any, organization: Organization | None,
             others: tuple[Account, ...]) -> RoleSpec:
        entry = self.keys(where, value, {"name", "accounts", "external_id"},
                          {"name", "accounts"})
        name = self.text(f"{where}.name", entry["name"])
        if not re.fullmatch(r"[\w+=,.@-]{1,64}", name):
            raise self.fail(f"{where}.name", f"{name!r} is not an IAM role name")
        if entry["accounts"] == "all":  # every account of the organization
            if organization is None:
                raise self.fail(f"{where}.accounts", "'all' needs an organization")
            accounts = tuple(a.id for a in organization.accounts)
        else:
            accounts = self.account_list(f"{where}.accounts", entry["accounts"], organization,
                                         others)
        external = entry.get("external_id")
        return RoleSpec(name, accounts,
                        self.text(f"{where}.external_id", external) if external else None)

    def account_list(self, where: str, value: Any, organization: Organization | None,
                     others: tuple[Account, ...]) -> tuple[str, ...]:
        """Accounts by id or name, looked up once (a list may name a thousand of them)."""
        accounts = (organization.accounts if organization else ()) + others
        by_key = {key: a.id for a in accounts for key in (a.name, a.id)}
        return tuple(by_key.get(str(a)) or self.resolve_account(f"{where}[{i}]", a, organization,
                                                                others)
                     for i, a in enumerate(self.list_of(where, value)))

    def account(self, where: str, value: Any) -> Account:
        entry = self.keys(where, value, {"id", "name", "status"}, {"id"})
        account_id = self.account_id(f"{where}.id", entry["id"])
        status = self.choice(f"{where}.status", entry.get("status", "ACTIVE"),
                             ("ACTIVE", "SUSPENDED"))
        return Account(account_id, str(entry.get("name") or account_id),
                       status == "SUSPENDED")

    def organization(self, value: Any) -> Organization:
        doc = self.keys("organization", value,
                        {"id", "management_account", "accounts", "trusted_access",
                         "delegated_administrator"}, {"management_account"})
        management = self.account("organization.management_account", doc["management_account"])
        members = tuple(self.account(f"organization.accounts[{i}]", a) for i, a in
                        enumerate(self.list_of("organization.accounts", doc.get("accounts", []))))
        ids = [management.id, *(m.id for m in members)]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise self.fail("organization.accounts", f"account id(s) listed twice: "
                            f"{', '.join(sorted(duplicates))}")
        trusted = doc.get("trusted_access", True)
        if not isinstance(trusted, bool):
            raise self.fail("organization.trusted_access", f"expected true or false, got "
                            f"{trusted!r}")
        admin = doc.get("delegated_administrator")
        if admin is not None:
            org = Organization(management, members, trusted, None)
            admin = self.resolve_account("organization.delegated_administrator", admin, org, ())
            if admin == management.id:
                raise self.fail("organization.delegated_administrator",
                                "the management account cannot be its own delegated "
                                "administrator")
        org_id = doc.get("id") or "o-" + hashlib.blake2b(
            management.id.encode(), digest_size=5).hexdigest()
        if not isinstance(org_id, str) or not re.fullmatch(r"o-[a-z0-9]{10,32}", org_id):
            raise self.fail("organization.id", f"{org_id!r} is not an organization id "
                            "(o- and 10 to 32 lowercase letters or digits)")
        return Organization(management, members, trusted, admin, org_id)

    def resolve_account(self, where: str, value: Any, organization: Organization | None,
                        others: tuple[Account, ...]) -> str:
        """An account given by id, by name, or as management / delegated_administrator."""
        accounts = (organization.accounts if organization else ()) + others
        if organization and value == "management":
            return organization.management.id
        if organization and value == "delegated_administrator":
            if not organization.delegated_administrator:
                raise self.fail(where, "the organization has no delegated administrator")
            return organization.delegated_administrator
        for account in accounts:
            if value in (account.id, account.name):
                return account.id
        if isinstance(value, (str, int)) and ACCOUNT_ID.match(str(value)):
            return str(value)
        raise self.fail(where, f"{value!r} is not an account of the scenario")

    def regions(self, value: Any) -> dict[str, str]:
        doc = self.keys("regions", value, {"universe", "opt_in_status"})
        known = all_regions()
        universe = doc.get("universe")
        if universe is None:
            universe = known
        universe = [self.region_name(f"regions.universe[{i}]", r, frozenset(known))
                    for i, r in enumerate(self.list_of("regions.universe", universe))]
        statuses = {r: ("DISABLED" if r in OPT_IN_REGIONS else "ENABLED_BY_DEFAULT")
                    for r in universe}
        overrides = self.keys("regions.opt_in_status", doc.get("opt_in_status") or {},
                              set(universe))
        for region, status in overrides.items():
            statuses[region] = self.choice(f"regions.opt_in_status.{region}", status,
                                           OPT_IN_STATUSES)
        return statuses

    def region_name(self, where: str, value: Any, known: frozenset[str]) -> str:
        """A region botocore knows, or one newer than it: `new:xx-future-1` (a region AWS
        launched after the installed botocore, which discovery lists and botocore does not)."""
        if isinstance(value, str) and value.startswith("new:"):
            name = value[4:]
            if not NEW_REGION.match(name) or name in known:
                raise self.fail(where, f"{name!r} is not the name of a region newer than "
                                "botocore (lowercase, like xx-future-1)")
            return name
        return str(self.choice(where, value, known))

    def condition(self, where: str, value: Any, base: Conditions) -> Conditions:
        names = {f.name for f in fields(Conditions)}
        doc = self.keys(where, value, names)
        updates: dict[str, Any] = {}
        for key, item in doc.items():
            if key in ("deny", "reject_credentials"):
                if not isinstance(item, bool):
                    raise self.fail(f"{where}.{key}", f"expected true or false, got {item!r}")
                updates[key] = item
            elif key == "error_operations":
                operations = frozenset(_AA.operation_names)
                updates[key] = tuple(self.choice(f"{where}.{key}[{i}]", op, operations)
                                     for i, op in enumerate(self.list_of(f"{where}.{key}", item)))
            elif key in ("error_after", "throttle_first"):
                updates[key] = self.integer(f"{where}.{key}", item)
            elif key == "error_rate":
                updates[key] = self.number(f"{where}.{key}", item, 0.0, 1.0)
            elif key == "burst":
                updates[key] = None if item is None else self.integer(f"{where}.{key}", item, 1)
            elif key == "rate_limit":
                updates[key] = None if item is None else self.number(f"{where}.{key}", item,
                                                                     0.001)
            else:
                updates[key] = self.number(f"{where}.{key}", item)
        return Conditions(**{**base.__dict__, **updates})

    def conditions(self, value: Any, regions: dict[str, str]
                   ) -> tuple[Conditions, dict[str, Conditions]]:
        doc = self.keys("conditions", value, {"default", *regions})
        default = self.condition("conditions.default", doc.get("default") or {}, Conditions())
        per_region = {region: self.condition(f"conditions.{region}", item or {}, default)
                      for region, item in doc.items() if region != "default"}
        return default, per_region

    def analyzer(self, where: str, value: Any, organization: Organization | None,
                 others: tuple[Account, ...], regions: dict[str, str],
                 context: _FindingContext) -> list[AnalyzerSpec]:
        doc = self.keys(where, value, {"region", "regions", "account", "accounts", "name", "type",
                                       "status", "status_reason", "archive_rules", "findings",
                                       "created_at", "managed_by"},
                        {"type"})
        kind = self.analyzer_type(f"{where}.type", doc["type"])
        managed_by = doc.get("managed_by")
        if managed_by is not None and not (isinstance(managed_by, str)
                                           and SERVICE_PRINCIPAL.match(managed_by)):
            raise self.fail(f"{where}.managed_by", f"{managed_by!r} is not a service principal "
                            "(like securityhub.amazonaws.com)")
        if "region" in doc and "regions" in doc:
            raise self.fail(where, "give either region or regions, not both")
        if "regions" in doc:
            region_list = doc["regions"]
            if region_list == "enabled":
                region_list = [r for r, s in regions.items()
                               if s in ("ENABLED", "ENABLED_BY_DEFAULT")]
            region_list = self.list_of(f"{where}.regions", region_list)
        elif "region" in doc:
            region_list = [doc["region"]]
        else:
            raise self.fail(where, "missing required key 'region' (or 'regions')")
        for i, region in enumerate(region_list):
            self.choice(f"{where}.regions[{i}]", region, frozenset(regions))
        if "account" in doc and "accounts" in doc:
            raise self.fail(where, "give either account or accounts, not both")
        if "accounts" in doc:  # the same analyzer in each of these accounts
            owners = self.account_list(f"{where}.accounts", doc["accounts"], organization,
                                       others)
        elif "account" in doc:
            owners = (self.resolve_account(f"{where}.account", doc["account"], organization,
                                           others),)
        elif organization:
            owners = (organization.delegated_administrator or organization.management.id,)
        elif others:
            owners = (others[0].id,)
        else:
            raise self.fail(f"{where}.account", "required when there is no organization")
        status = self.choice(f"{where}.status", doc.get("status", "ACTIVE"), ANALYZER_STATUSES)
        reason = doc.get("status_reason")
        if reason is not None:
            reason = self.choice(f"{where}.status_reason", reason, REASON_CODES)
        name = doc.get("name") or f"{kind.lower().replace('_', '-')}-analyzer"
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]{0,254}", str(name)):
            raise self.fail(f"{where}.name", f"{name!r} is not a valid analyzer name")
        rules = tuple(
            self.archive_rule(f"{where}.archive_rules[{i}]", rule)
            for i, rule in enumerate(self.list_of(f"{where}.archive_rules",
                                                  doc.get("archive_rules", [])))
        )
        entries = self.list_of(f"{where}.findings", doc.get("findings", []))
        created = (self.timestamp(f"{where}.created_at", doc["created_at"])
                   if "created_at" in doc else None)
        specs = []
        for account in owners:
            for region in region_list:
                findings: list[dict[str, Any]] = []
                for i, entry in enumerate(entries):
                    findings.extend(self.findings(f"{where}.findings[{i}]", entry, region,
                                                  account, kind, context))
                specs.append(AnalyzerSpec(account, region, str(name), kind, status, reason,
                                          rules, tuple(findings), created, managed_by))
        return specs

    def analyzer_type(self, where: str, value: Any) -> str:
        """A type botocore knows, or `new:NAME`, one newer than it."""
        if isinstance(value, str) and value.startswith("new:"):
            name = value[4:]
            if not NEW_TYPE.match(name) or name in ANALYZER_TYPES:
                raise self.fail(where, f"{name!r} is not the name of an analyzer type newer "
                                "than botocore (uppercase, like ORGANIZATION_FUTURE_THING)")
            return name
        return self.choice(where, value, ANALYZER_TYPES)

    def archive_rule(self, where: str, value: Any) -> ArchiveRule:
        doc = self.keys(where, value, {"name", "filter"}, {"name", "filter"})
        filters = self.keys(f"{where}.filter", doc["filter"], set(doc["filter"] or {}))
        for key, criterion in filters.items():
            if not (key in SCALAR_FILTER_KEYS or str(key).startswith(("principal.",
                                                                        "condition."))):
                raise self.fail(f"{where}.filter.{key}", "not a filter key of Access Analyzer")
            self.keys(f"{where}.filter.{key}", criterion, {"eq", "neq", "contains", "exists"})
        return ArchiveRule(self.text(f"{where}.name", doc["name"]), dict(filters))

    def findings(self, where: str, value: Any, region: str, analyzer_account: str, kind: str,
                 context: _FindingContext) -> list[dict[str, Any]]:
        if isinstance(value, Mapping) and "generate" in value:
            self.keys(where, value, {"generate"})
            return self.generated(f"{where}.generate", value["generate"], region,
                                  analyzer_account, kind, context)
        doc = self.keys(where, value, {"id", "resource", "resource_type", "owner", "public",
                                       "principal", "action", "condition", "status",
                                       "created_at", "updated_at", "analyzed_at", "error",
                                       "sources", *_DETAIL_KEYS},
                        {"resource", "resource_type"})
        finding_type, details = self.finding_details(where, doc, kind)
        owner = (self.resolve_account(f"{where}.owner", doc["owner"], context.organization,
                                      context.others)
                 if "owner" in doc else analyzer_account)
        public = doc.get("public", False)
        if not isinstance(public, bool):
            raise self.fail(f"{where}.public", f"expected true or false, got {public!r}")
        times = {key: self.timestamp(f"{where}.{key}", doc[key])
                 for key in ("created_at", "updated_at", "analyzed_at") if key in doc}
        for key in ("principal", "condition"):
            if key in doc and not isinstance(doc[key], Mapping):
                raise self.fail(f"{where}.{key}", "expected a mapping of strings")
        if "action" in doc and not isinstance(doc["action"], list):
            raise self.fail(f"{where}.action", "expected a list of strings")
        return [make_finding(
            finding_id=str(doc["id"]) if "id" in doc else context.next_id(),
            resource=str(doc["resource"]),
            resource_type=self.choice(f"{where}.resource_type", doc["resource_type"],
                                      RESOURCE_TYPES),
            owner=owner,
            is_public=public,
            principal={str(k): str(v) for k, v in (doc.get("principal") or {}).items()},
            action=[str(a) for a in doc.get("action") or []],
            condition={str(k): str(v) for k, v in (doc.get("condition") or {}).items()},
            status=self.choice(f"{where}.status", doc.get("status", "ACTIVE"), FINDING_STATUSES),
            error=str(doc["error"]) if doc.get("error") else None,
            sources=doc.get("sources"),
            created_at=times.get("created_at") or context.timestamp(),
            updated_at=times.get("updated_at"),
            analyzed_at=times.get("analyzed_at"),
            finding_type=finding_type,
            details=details,
        )]

    def finding_details(self, where: str, doc: Mapping[str, Any], kind: str
                        ) -> tuple[str, dict[str, Any]]:
        """The finding's type (from its analyzer's analysis) and its FindingDetails members."""
        given = [key for key in _DETAIL_KEYS if key in doc]
        if kind in INTERNAL_ACCESS_TYPES:
            finding_type, allowed = "InternalAccess", _INTERNAL_KEYS
        elif kind in UNUSED_ACCESS_TYPES:
            if "finding_type" not in doc:
                raise self.fail(f"{where}.finding_type", "required for an unused-access "
                                f"analyzer: one of {', '.join(UNUSED_FINDING_TYPES)}")
            finding_type = self.choice(f"{where}.finding_type", doc["finding_type"],
                                       UNUSED_FINDING_TYPES)
            allowed = _UNUSED_KEYS[finding_type]
        else:
            finding_type, allowed = "ExternalAccess", frozenset()
        for key in given:
            if key not in allowed:
                raise self.fail(f"{where}.{key}", f"not a detail of a {finding_type} finding")
        details: dict[str, Any] = {}
        if "access_type" in doc:
            details["accessType"] = self.choice(f"{where}.access_type", doc["access_type"],
                                                INTERNAL_ACCESS_TYPES_ENUM)
        if "principal_type" in doc:
            details["principalType"] = self.choice(f"{where}.principal_type",
                                                   doc["principal_type"], PRINCIPAL_TYPES)
        if "principal_owner_account" in doc:
            details["principalOwnerAccount"] = self.resolve_account(
                f"{where}.principal_owner_account", doc["principal_owner_account"],
                None, ())
        if "last_accessed" in doc:
            details["lastAccessed"] = self.timestamp(f"{where}.last_accessed",
                                                     doc["last_accessed"])
        for key, member in (("access_key_id", "accessKeyId"),
                            ("service_namespace", "serviceNamespace")):
            if key in doc:
                details[member] = self.text(f"{where}.{key}", doc[key])
        if "unused_actions" in doc:
            details["actions"] = [{"action": self.text(f"{where}.unused_actions[{i}]", a)}
                                  for i, a in enumerate(self.list_of(
                                      f"{where}.unused_actions", doc["unused_actions"]))]
        for key, member in (("access_key_id", "accessKeyId"),
                            ("service_namespace", "serviceNamespace")):
            if key in allowed and member not in details:
                raise self.fail(f"{where}.{key}", f"required for a {finding_type} finding")
        return finding_type, details

    def timestamp(self, where: str, value: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            stamp = value
        else:
            try:
                stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                raise self.fail(where, f"{value!r} is not an ISO 8601 time") from None
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)

    def generated(self, where: str, value: Any, region: str, analyzer_account: str, kind: str,
                  context: _FindingContext) -> list[dict[str, Any]]:
        doc = self.keys(where, value, {"count", "resource_types", "public_share", "statuses",
                                       "owners", "error_share", "finding_types"}, {"count"})
        count = self.integer(f"{where}.count", doc["count"])
        finding_types: dict[str, float] = {}
        if kind in UNUSED_ACCESS_TYPES:
            kinds_doc = doc.get("finding_types", list(UNUSED_FINDING_TYPES))
            if isinstance(kinds_doc, list):
                kinds_doc = dict.fromkeys(kinds_doc, 1)
            finding_types = {
                self.choice(f"{where}.finding_types", t, UNUSED_FINDING_TYPES):
                self.number(f"{where}.finding_types.{t}", w) for t, w in
                self.keys(f"{where}.finding_types", kinds_doc, set(UNUSED_FINDING_TYPES)).items()}
        elif "finding_types" in doc:
            raise self.fail(f"{where}.finding_types", "only for an unused-access analyzer")
        types_doc = doc.get("resource_types", list(CLASSIC_RESOURCE_TYPES))
        if isinstance(types_doc, list):
            types_doc = dict.fromkeys(types_doc, 1)
        weights = {self.choice(f"{where}.resource_types", t, RESOURCE_TYPES):
                   self.number(f"{where}.resource_types.{t}", w) for t, w in
                   self.keys(f"{where}.resource_types", types_doc, set(RESOURCE_TYPES)).items()}
        statuses_doc = doc.get("statuses", {"ACTIVE": 1})
        statuses = {self.choice(f"{where}.statuses", s, FINDING_STATUSES):
                    self.number(f"{where}.statuses.{s}", w) for s, w in
                    self.keys(f"{where}.statuses", statuses_doc, set(FINDING_STATUSES)).items()}
        public_share = self.number(f"{where}.public_share", doc.get("public_share", 0.2), 0, 1)
        error_share = self.number(f"{where}.error_share", doc.get("error_share", 0.0), 0, 1)
        if "owners" in doc:
            owners = [self.resolve_account(f"{where}.owners[{i}]", o, context.organization,
                                           context.others)
                      for i, o in enumerate(self.list_of(f"{where}.owners", doc["owners"]))]
        elif kind.startswith("ORGANIZATION") and context.organization:
            owners = [a.id for a in context.organization.accounts]
        else:
            owners = [analyzer_account]
        if finding_types:
            return context.generate_unused(count, finding_types, statuses, owners)
        findings = context.generate(count, region, weights, statuses, public_share,
                                    error_share, owners)
        if kind in INTERNAL_ACCESS_TYPES:
            findings = [context.internal(f) for f in findings]
        return findings


# FindingDetails members a scenario finding may give, by the finding type they belong to.
_INTERNAL_KEYS = frozenset({"access_type", "principal_type", "principal_owner_account"})
_UNUSED_KEYS = {
    "UnusedIAMRole": frozenset({"finding_type", "last_accessed"}),
    "UnusedIAMUserPassword": frozenset({"finding_type", "last_accessed"}),
    "UnusedIAMUserAccessKey": frozenset({"finding_type", "last_accessed", "access_key_id"}),
    "UnusedPermission": frozenset({"finding_type", "last_accessed", "service_namespace",
                                   "unused_actions"}),
}
_DETAIL_KEYS = ("finding_type", *sorted(_INTERNAL_KEYS | {"last_accessed", "access_key_id",
                                                          "service_namespace",
                                                          "unused_actions"}))


_ACTIONS = {
    "AWS::S3::Bucket": ["s3:GetObject", "s3:ListBucket"],
    "AWS::IAM::Role": ["sts:AssumeRole"],
    "AWS::KMS::Key": ["kms:Decrypt", "kms:GenerateDataKey"],
    "AWS::Lambda::Function": ["lambda:InvokeFunction"],
    "AWS::Lambda::LayerVersion": ["lambda:GetLayerVersion"],
    "AWS::SQS::Queue": ["sqs:SendMessage", "sqs:ReceiveMessage"],
    "AWS::SecretsManager::Secret": ["secretsmanager:GetSecretValue"],
}


def resource_arn(resource_type: str, region: str, account: str, name: str) -> str:
    """A plausible ARN for a resource of the given type."""
    arns = {
        "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
        "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
        "AWS::IAM::User": f"arn:aws:iam::{account}:user/{name}",
        "AWS::KMS::Key": f"arn:aws:kms:{region}:{account}:key/{name}",
        "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
        "AWS::Lambda::LayerVersion": f"arn:aws:lambda:{region}:{account}:layer:{name}:1",
        "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{name}",
        "AWS::SecretsManager::Secret":
            f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-Ab12Cd",
        "AWS::EFS::FileSystem": f"arn:aws:elasticfilesystem:{region}:{account}:file-system/{name}",
        "AWS::EC2::Snapshot": f"arn:aws:ec2:{region}::snapshot/{name}",
        "AWS::ECR::Repository": f"arn:aws:ecr:{region}:{account}:repository/{name}",
        "AWS::RDS::DBSnapshot": f"arn:aws:rds:{region}:{account}:snapshot:{name}",
        "AWS::RDS::DBClusterSnapshot": f"arn:aws:rds:{region}:{account}:cluster-snapshot:{name}",
        "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
        "AWS::S3Express::DirectoryBucket":
            f"arn:aws:s3express:{region}:{account}:bucket/{name}--use1-az4--x-s3",
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
        "AWS::DynamoDB::Stream":
            f"arn:aws:dynamodb:{region}:{account}:table/{name}/stream/2026-01-01T00:00:00.000",
    }
    return arns.get(resource_type, f"arn:aws:unknown:{region}:{account}:{name}")


class _FindingContext:
    """Deterministic ids, times and contents for generated findings."""

    EPOCH = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)

    def __init__(self, rng: random.Random, organization: Organization | None,
                 others: tuple[Account, ...]) -> None:
        self.rng = rng
        self.organization = organization
        self.others = others
        self._counter = 0

    def next_id(self) -> str:
        self._counter += 1
        bits = self.rng.getrandbits
        first, second, third, fourth = bits(32), bits(16), bits(12), bits(12)
        return f"{first:08x}-{second:04x}-4{third:03x}-8{fourth:03x}-{self._counter:012x}"

    def timestamp(self) -> dt.datetime:
        return self.EPOCH + dt.timedelta(minutes=self.rng.randrange(0, 60 * 24 * 300))

    def internal(self, finding: dict[str, Any]) -> dict[str, Any]:
        """A generated finding as an internal-access one: a principal of the organization."""
        rng = self.rng
        owner = finding["resourceOwnerAccount"]
        accounts = [a.id for a in self.organization.accounts] if self.organization else [owner]
        principal_account = rng.choice(accounts)
        role = f"role-{rng.randrange(16**6):06x}"
        return {**finding, "isPublic": False, "findingType": "InternalAccess",
                "principal": {"AWS": f"arn:aws:iam::{principal_account}:role/{role}"},
                "condition": {},
                "details": {"accessType": ("INTRA_ACCOUNT" if principal_account == owner
                                           else "INTRA_ORG"),
                            "principalType": "IAM_ROLE",
                            "principalOwnerAccount": principal_account}}

    def generate_unused(self, count: int, finding_types: dict[str, float],
                        statuses: dict[str, float], owners: list[str]) -> list[dict[str, Any]]:
        """Unused-access findings: roles, users' passwords and keys, unused permissions."""
        rng = self.rng
        kinds, weights = list(finding_types), list(finding_types.values())
        status_names, status_weights = list(statuses), list(statuses.values())
        out = []
        for _ in range(count):
            kind = rng.choices(kinds, weights)[0]
            owner = rng.choice(owners)
            suffix = "".join(rng.choices(string.ascii_lowercase + string.digits, k=8))
            is_role = kind in ("UnusedIAMRole", "UnusedPermission")
            resource_type = "AWS::IAM::Role" if is_role else "AWS::IAM::User"
            name = f"{'role' if is_role else 'user'}-{suffix}"
            created = self.timestamp()
            details: dict[str, Any] = {
                "lastAccessed": created - dt.timedelta(days=rng.randrange(91, 400))}
            if kind == "UnusedIAMUserAccessKey":
                details["accessKeyId"] = "AKIA" + "".join(
                    rng.choices(string.ascii_uppercase + string.digits, k=16))
            if kind == "UnusedPermission":
                service = rng.choice(["s3", "ec2", "kms", "dynamodb"])
                details["serviceNamespace"] = service
                details["actions"] = [{"action": f"{service}:Describe*"}]
            out.append(make_finding(
                finding_id=self.next_id(),
                resource=resource_arn(resource_type, "", owner, name),
                resource_type=resource_type, owner=owner, is_public=False,
                status=rng.choices(status_names, status_weights)[0], created_at=created,
                finding_type=kind, details=details))
        return out

    def generate(self, count: int, region: str, type_weights: dict[str, float],
                 statuses: dict[str, float], public_share: float, error_share: float,
                 owners: list[str]) -> list[dict[str, Any]]:
        rng = self.rng
        types, weights = list(type_weights), list(type_weights.values())
        status_names, status_weights = list(statuses), list(statuses.values())
        out = []
        for _ in range(count):
            resource_type = rng.choices(types, weights)[0]
            owner = rng.choice(owners)
            suffix = "".join(rng.choices(string.ascii_lowercase + string.digits, k=10))
            name = f"{resource_type.split('::')[1].lower()}-{suffix}"
            public = rng.random() < public_share
            external = f"{rng.randrange(10**11, 10**12):012d}"
            created = self.timestamp()
            error = "ACCESS_DENIED" if rng.random() < error_share else None
            out.append(make_finding(
                finding_id=self.next_id(),
                resource=resource_arn(resource_type, region, owner, name),
                resource_type=resource_type,
                owner=owner,
                is_public=public,
                principal={"AWS": "*"} if public else {"AWS": f"arn:aws:iam::{external}:root"},
                action=_ACTIONS.get(resource_type, ["*"]),
                condition={} if public or rng.random() < 0.7 else {
                    "aws:PrincipalOrgID": "o-" + "".join(rng.choices(string.ascii_lowercase,
                                                                     k=10))},
                status=rng.choices(status_names, status_weights)[0],
                created_at=created,
                updated_at=created + dt.timedelta(hours=rng.randrange(0, 500)),
                error=error,
            ))
        return out
