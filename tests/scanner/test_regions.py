"""Region discovery and planning, with fake clients at the seam: whatever a service answers,
no region is skipped on a guess and nothing crashes."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from reports.document.rules import UNSELECTED
from scanner.collect.regions import discover_regions, plan_regions
from scanner.model import RegionSource


class Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self.pages


class Account:
    def __init__(self, regions: list[dict[str, Any]] | None, error: str | None = None) -> None:
        self.regions, self.error = regions, error

    def get_paginator(self, _: str) -> Pages:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "no"}}, "ListRegions")
        return Pages([{"Regions": self.regions}])


class Ec2:
    def __init__(self, regions: list[dict[str, Any]] | None, error: str | None = None) -> None:
        self.regions, self.error = regions, error

    def describe_regions(self, **_: Any) -> dict[str, Any]:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "no"}}, "DescribeRegions")
        return {"Regions": self.regions}


KNOWN = ["eu-west-1", "us-east-1"]


def built(client):
    return lambda: client


def unbuilt():
    raise AssertionError("the EC2 client is built only when account:ListRegions fails")


def test_a_missing_or_transitional_status_means_try_the_region():
    discovery = discover_regions(Account([
        {"RegionName": "us-east-1"},  # RegionOptStatus is optional in the API
        {"RegionName": "eu-west-1", "RegionOptStatus": "DISABLING"},
        {"RegionName": "ap-east-1", "RegionOptStatus": "ENABLING"},
        {"RegionName": "af-south-1", "RegionOptStatus": "DISABLED"},
        {"RegionName": "us-west-2", "RegionOptStatus": "ENABLED_BY_DEFAULT"},
    ]), built(Ec2(None, "UnauthorizedOperation")), KNOWN)
    enabled = {r.region: r.enabled for r in discovery.regions}
    assert enabled == {"us-east-1": None, "eu-west-1": None, "ap-east-1": None,
                       "af-south-1": False, "us-west-2": True}
    plans = {p.region: p.scan for p in plan_regions(discovery, None, {})}
    assert plans == {"us-east-1": True, "eu-west-1": True, "ap-east-1": True,
                     "af-south-1": False, "us-west-2": True}


def test_unusable_names_are_reported_not_called():
    discovery = discover_regions(Account([
        {"RegionName": "Bad_Region!", "RegionOptStatus": "ENABLED"},
        {"RegionOptStatus": "ENABLED"},
        {"RegionName": "us-east-1", "RegionOptStatus": "ENABLED_BY_DEFAULT"},
    ]), unbuilt, KNOWN)
    assert [r.region for r in discovery.regions] == ["us-east-1"]
    assert [e.code for e in discovery.errors] == ["InvalidRegionName", "InvalidRegionName"]


def test_an_empty_answer_falls_back_to_the_next_source():
    discovery = discover_regions(Account([]), built(Ec2([
        {"RegionName": "us-east-1", "OptInStatus": "opt-in-not-required"},
        {"RegionName": "af-south-1", "OptInStatus": "not-opted-in"},
        {"RegionName": "me-south-1"}])), KNOWN)
    assert discovery.source == RegionSource.EC2_DESCRIBE_REGIONS
    assert {r.region: r.enabled for r in discovery.regions} == {
        "us-east-1": True, "af-south-1": False, "me-south-1": None}
    assert [e.code for e in discovery.errors] == ["NoRegions"]


def test_when_every_source_fails_botocore_regions_are_tried():
    discovery = discover_regions(Account(None, "AccessDeniedException"),
                                 built(Ec2(None, "UnauthorizedOperation")), KNOWN)
    assert discovery.source == RegionSource.BOTOCORE
    assert [(r.region, r.enabled) for r in discovery.regions] == [("eu-west-1", None),
                                                                  ("us-east-1", None)]
    assert [e.code for e in discovery.errors] == ["AccessDeniedException",
                                                  "UnauthorizedOperation"]


def test_a_region_list_drops_nothing_discovery_or_the_exclusions_name():
    """Probe: `--regions us-east-1 --exclude eu-west-1` dropped eu-west-1 from the result (and
    the manifest said it was neither enabled nor excluded). Every region discovery lists is
    in the plan: excluded with its reason, left out by the list with that reason, or not
    enabled."""
    discovery = discover_regions(Account([
        {"RegionName": "us-east-1", "RegionOptStatus": "ENABLED_BY_DEFAULT"},
        {"RegionName": "eu-west-1", "RegionOptStatus": "ENABLED_BY_DEFAULT"},
        {"RegionName": "ap-south-1", "RegionOptStatus": "ENABLED_BY_DEFAULT"},
        {"RegionName": "af-south-1", "RegionOptStatus": "DISABLED"},
    ]), unbuilt, KNOWN)
    plans = {p.region: (p.scan, p.excluded_reason)
             for p in plan_regions(discovery, ("us-east-1",), {"eu-west-1": "not ours"})}
    assert plans == {"us-east-1": (True, None), "eu-west-1": (False, "not ours"),
                     "ap-south-1": (False, UNSELECTED), "af-south-1": (False, None)}
