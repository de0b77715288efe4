"""Which regions are enabled for the account, and which of them this run scans."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reports.document.rules import UNSELECTED

from ..aws import attempt
from ..model import REGION_NAME, ApiError, RegionAvailability, RegionDiscovery, RegionSource

if TYPE_CHECKING:
    from mypy_boto3_account import AccountClient
    from mypy_boto3_ec2 import EC2Client

ENABLED_STATUSES = frozenset({"ENABLED", "ENABLED_BY_DEFAULT"})
DISABLED_STATUSES = frozenset({"DISABLED"})
EC2_ENABLED = frozenset({"opt-in-not-required", "opted-in"})
EC2_DISABLED = frozenset({"not-opted-in"})


def _enabled(status: Any, enabled: frozenset[str], disabled: frozenset[str]) -> bool | None:
    """True or False when the status says so; None (try the region) when it is missing or
    in transition (ENABLING, DISABLING), so a region is never skipped on a guess."""
    if status in enabled:
        return True
    if status in disabled:
        return False
    return None


def _availabilities(items: Iterable[Mapping[str, Any]], status_key: str,
                    enabled: frozenset[str], disabled: frozenset[str], source: str
                    ) -> tuple[tuple[RegionAvailability, ...], list[ApiError]]:
    regions: list[RegionAvailability] = []
    errors: list[ApiError] = []
    for item in items:
        name = item.get("RegionName")
        if not isinstance(name, str) or not REGION_NAME.match(name):
            errors.append(ApiError("InvalidRegionName", f"{source} listed a region without a "
                                   f"usable name: {str(name)[:80]!r}", source))
            continue
        status = item.get(status_key)
        regions.append(RegionAvailability(name, _enabled(status, enabled, disabled), status))
    return tuple(regions), errors


def _list_regions(account: AccountClient) -> list[Mapping[str, Any]]:
    pages = account.get_paginator("list_regions").paginate()
    return [r for page in pages for r in page.get("Regions") or []]


def _describe_regions(ec2: Callable[[], EC2Client]) -> list[Mapping[str, Any]]:
    return list(ec2().describe_regions(AllRegions=True).get("Regions") or [])


def discover_regions(account: AccountClient, ec2: Callable[[], EC2Client], known: Iterable[str]
                     ) -> RegionDiscovery:
    """account:ListRegions; else ec2:DescribeRegions(AllRegions); else botocore's list.

    An answer that lists no usable region counts as a failure and the next source is asked.
    `ec2` builds the EC2 client only when it is asked (botocore's largest model: building
    it costs more CPU than the rest of discovery, and ListRegions usually answers).
    """
    sources = (
        (RegionSource.ACCOUNT_LIST_REGIONS, lambda: _list_regions(account), "RegionOptStatus",
         ENABLED_STATUSES, DISABLED_STATUSES),
        (RegionSource.EC2_DESCRIBE_REGIONS, lambda: _describe_regions(ec2), "OptInStatus",
         EC2_ENABLED, EC2_DISABLED),
    )
    errors: list[ApiError] = []
    for source, fetch, status_key, enabled, disabled in sources:
        operation = source.value
        items = attempt(operation, fetch)
        if isinstance(items, ApiError):
            errors.append(items)
            continue
        regions, problems = _availabilities(items, status_key, enabled, disabled, operation)
        errors.extend(problems)
        if regions:
            return RegionDiscovery(source, regions, tuple(errors))
        errors.append(ApiError("NoRegions", f"{operation} listed no region", operation))
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
    if wanted is not None:
        # An excluded region, or one discovery lists that the region list leaves out, is
        # listed with why it was not called: never dropped from the evidence.
        chosen = set(names)
        names += sorted(r for r in {*exclude, *by_name} if r not in chosen)
        exclude = {**{r: UNSELECTED for r in names if r not in chosen and r not in exclude
                      and by_name[r].enabled is not False}, **exclude}
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
