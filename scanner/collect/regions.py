"""Which regions are enabled for the account, and which of them this run scans."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import error_from
from ..model import ApiError, RegionAvailability, RegionDiscovery, RegionSource

ENABLED_STATUSES = frozenset({"ENABLED", "ENABLED_BY_DEFAULT"})
EC2_ENABLED = frozenset({"opt-in-not-required", "opted-in"})


def discover_regions(account: Any, ec2: Any, known: Iterable[str]) -> RegionDiscovery:
    """account:ListRegions; else ec2:DescribeRegions(AllRegions); else botocore's list."""
    errors: list[ApiError] = []
    try:
        pages = account.get_paginator("list_regions").paginate()
        regions = tuple(
            RegionAvailability(r["RegionName"], r.get("RegionOptStatus") in ENABLED_STATUSES,
                               r.get("RegionOptStatus"))
            for page in pages for r in page.get("Regions", []))
        return RegionDiscovery(RegionSource.ACCOUNT_LIST_REGIONS, regions)
    except (ClientError, BotoCoreError) as exc:
        errors.append(ApiError(*error_from(exc, "ListRegions"), "account:ListRegions"))
    try:
        response = ec2.describe_regions(AllRegions=True)
        regions = tuple(
            RegionAvailability(r["RegionName"], r.get("OptInStatus") in EC2_ENABLED,
                               r.get("OptInStatus"))
            for r in response.get("Regions", []))
        return RegionDiscovery(RegionSource.EC2_DESCRIBE_REGIONS, regions, tuple(errors))
    except (ClientError, BotoCoreError) as exc:
        errors.append(ApiError(*error_from(exc, "DescribeRegions"), "ec2:DescribeRegions"))
    return RegionDiscovery(
        RegionSource.BOTOCORE,
        tuple(RegionAvailability(r, None, None) for r in sorted(known)),
        tuple(errors))


@dataclass(frozen=True)
class RegionPlan:
    """Every region the result will list, and whether this run calls it."""

    region: str
    availability: RegionAvailability | None
    excluded_reason: str | None
    scan: bool


def plan_regions(discovery: RegionDiscovery, wanted: tuple[str, ...] | None,
                 exclude: Mapping[str, str]) -> list[RegionPlan]:
    """Apply the configuration to the discovered regions, dropping nothing silently.

    Regions that discovery reports as not enabled are listed, not called; so are excluded
    ones. A region of an explicit list that discovery does not know is still tried (it may
    be newer than the list), and with the botocore fall-back (enablement unknown) every
    region is tried and its own answer decides.
    """
    by_name = {r.region: r for r in discovery.regions}
    names = list(wanted) if wanted is not None else sorted(by_name)
    plans = []
    for name in names:
        availability = by_name.get(name)
        if name in exclude:
            plans.append(RegionPlan(name, availability, exclude[name], scan=False))
        elif availability is not None and availability.enabled is False:
            plans.append(RegionPlan(name, availability, None, scan=False))
        else:
            plans.append(RegionPlan(name, availability, None, scan=True))
    return plans
