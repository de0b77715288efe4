"""The demo world that `aa-scan --demo` scans (found through the `aa_scan.worlds` entry point).

Two variants of one organization, so a second demo run has something to compare with:

- `base`: scenarios/demo.yaml, every kind of region verdict;
- `later`: the same organization a week later: sa-east-1 got its organization analyzer (a
  gap closed), ap-southeast-3 was enabled without one (a region changed status, a gap
  opened), a public S3 bucket appeared in us-east-1, and the oldest findings of eu-west-1
  were resolved. Everything else (analyzers, finding ids) is as in `base`;
- `split`: the same organization seen from its management account, whose organization
  analyzers in four regions were created before security-tooling became the delegated
  administrator (the others are the delegated administrator's), with a role `aa-scan-admin`
  in both accounts and no region-deny SCP on me-south-1: INCOMPLETE from the management
  account alone, complete with `--admin-role-name aa-scan-admin`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from importlib import resources
from typing import Any

from .accessanalyzer import make_finding
from .scenario import AnalyzerSpec, RoleSpec, Scenario, load_scenario
from .world import World

VARIANTS = ("base", "later", "split")
# Where the `split` variant's management account holds the organization analyzer.
MANAGEMENT_REGIONS = frozenset({"us-east-1", "us-east-2", "eu-west-1", "eu-central-1"})
ADMIN_ROLE = "aa-scan-admin"
# Configuration the demo applies under the user's own: one region excluded on purpose, so
# the demo shows every verdict (the region is denied by an SCP, by design, in the scenario).
DEMO_CONFIG: dict[str, Any] = {
    "exclude": {"us-west-1": "Decommissioned in 2025; blocked by the region-deny SCP."},
}
RESOLVED_IN_EU_WEST_1 = 3
# The demo's accepted risk (issue 23), so `--demo` shows the register: one exception that
# accepts a gap for months, one about to expire that accepts the public website's findings.
# Their expiry is counted from the day the demo runs, so the register looks the same
# whenever it is run (never from the user's config/regions.yaml, which a real scan reads).
ACCEPTED_DAYS, EXPIRING_DAYS = 120, 9


def demo_exceptions(today: dt.date) -> list[dict[str, Any]]:
    """The demo's exceptions, as a configuration file would hold them, as of `today`."""
    return [
        {"region": "ap-northeast-1", "code": "ACCOUNT_SCOPE_ONLY",
         "reason": "Tokyo hosts the sandbox account only; the organization analyzer is "
                   "rolled out there with the Q2 landing-zone change",
         "owner": "secops@acme.example", "ticket": "RISK-101",
         "expires": (today + dt.timedelta(days=ACCEPTED_DAYS)).isoformat()},
        {"resource": "arn:aws:s3:::acme-public-website", "public": True,
         "reason": "The marketing website is public by design until it moves behind "
                   "CloudFront (origin access control)",
         "owner": "web-platform@acme.example", "ticket": "RISK-117",
         "expires": (today + dt.timedelta(days=EXPIRING_DAYS)).isoformat()},
    ]


class DemoWorld(World):
    @property
    def config_overrides(self) -> dict[str, Any]:
        """The demo's own settings: DEMO_CONFIG and its exceptions, dated from today."""
        return {**DEMO_CONFIG, "exceptions": demo_exceptions(dt.datetime.now(dt.UTC).date())}


def _later(scenario: Scenario) -> Scenario:
    """The base organization a week later (see the module docstring)."""
    week = dt.datetime(2026, 12, 5, 9, 30, tzinfo=dt.UTC)
    specs = list(scenario.analyzers)
    main = next(s for s in specs if s.type == "ORGANIZATION" and s.region == "us-east-1"
                and s.status == "ACTIVE")
    bucket = make_finding(
        resource="arn:aws:s3:::acme-marketing-uploads", resource_type="AWS::S3::Bucket",
        owner="333333333333", is_public=True, principal={"AWS": "*"},
        action=["s3:GetObject", "s3:PutObject"], created_at=week,
        finding_id="7d1f3c52-0b6e-4a0e-9d5b-5a1e2c3d4e5f")
    specs[specs.index(main)] = replace(main, findings=(*main.findings, bucket))
    europe = next(s for s in specs if s.type == "ORGANIZATION" and s.region == "eu-west-1")
    active = sorted((f for f in europe.findings if f["status"] == "ACTIVE"),
                    key=lambda f: f["createdAt"])[:RESOLVED_IN_EU_WEST_1]
    resolved = {f["id"] for f in active}
    specs[specs.index(europe)] = replace(europe, findings=tuple(
        {**f, "status": "RESOLVED", "updatedAt": week} if f["id"] in resolved else f
        for f in europe.findings))
    specs.append(AnalyzerSpec(main.account_id, "sa-east-1", main.name, "ORGANIZATION",
                              "ACTIVE", None, main.archive_rules, (), week))
    regions = {**scenario.regions, "ap-southeast-3": "ENABLED"}
    return replace(scenario, name="demo-later", regions=regions, analyzers=tuple(specs))


def _split(scenario: Scenario) -> Scenario:
    """The base organization from its management account, analyzers split (see above)."""
    assert scenario.organization is not None and scenario.organization.delegated_administrator
    management = scenario.organization.management.id
    specs = tuple(
        replace(s, account_id=management)
        if s.type == "ORGANIZATION" and s.status == "ACTIVE" and s.region in MANAGEMENT_REGIONS
        else s for s in scenario.analyzers)
    role = RoleSpec(ADMIN_ROLE, (management, scenario.organization.delegated_administrator))
    conditions = {r: c for r, c in scenario.conditions.items() if r != "me-south-1"}
    return replace(scenario, name="demo-split", scanner_account=management, analyzers=specs,
                   roles=(*scenario.roles, role), conditions=conditions)


@contextmanager
def demo_world(variant: str = "base") -> Iterator[World]:
    if variant not in VARIANTS:
        raise ValueError(f"unknown demo variant {variant!r} (valid: {', '.join(VARIANTS)})")
    path = resources.files("simulator") / "scenarios" / "demo.yaml"
    with resources.as_file(path) as scenario_path:
        scenario = load_scenario(scenario_path)
    variants = {"base": lambda s: s, "later": _later, "split": _split}
    world = DemoWorld(variants[variant](scenario))
    with world:
        yield world
