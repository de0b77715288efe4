"""Fixtures for the simulator tests.

Every test module that needs a running world defines a module-scoped `scenario_doc` fixture
(a scenario document, the dict shape `load_scenario` accepts) and uses `world`: one world per
module, since moto's state is per process and only one world may run at a time. Starting a
world costs about a second, so keep region universes small.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from simulator import World, load_scenario

MANAGEMENT = "111111111111"
DELEGATED_ADMIN = "222222222222"
MEMBER = "333333333333"


def small_scenario() -> dict[str, Any]:
    """A minimal organization: management, delegated administrator (the scanner), a member."""
    return {
        "name": "small",
        "seed": 7,
        "organization": {
            "management_account": {"id": MANAGEMENT, "name": "management"},
            "accounts": [{"id": DELEGATED_ADMIN, "name": "security"},
                         {"id": MEMBER, "name": "workload"}],
            "trusted_access": True,
            "delegated_administrator": "security",
        },
        "scanner": {"account": "security"},
        "regions": {"universe": ["us-east-1", "us-west-2", "eu-west-1"]},
        "analyzers": [{"name": "org", "type": "ORGANIZATION", "regions": ["us-east-1"]}],
    }


@pytest.fixture(scope="module")
def scenario_doc() -> dict[str, Any]:
    """Overridden by modules that need another scenario."""
    return small_scenario()


@pytest.fixture(scope="module")
def world(scenario_doc: dict[str, Any]) -> Iterator[World]:
    with World(load_scenario(scenario_doc)) as running:
        yield running


@contextmanager
def _raises_aws(code: str, status: int | None = None) -> Iterator[pytest.ExceptionInfo[Any]]:
    with pytest.raises(ClientError) as info:
        yield info
    response = info.value.response
    assert response["Error"]["Code"] == code, response
    if status is not None:
        assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response


@pytest.fixture(scope="session")
def raises_aws() -> Callable[..., Any]:
    """`with raises_aws("ValidationException", 400): client.call(...)`: code and HTTP status."""
    return _raises_aws


class SimStats:
    """The world's /_sim/stats endpoint, over plain HTTP."""

    def __init__(self, world: World) -> None:
        self.url = f"{world.url}/_sim/stats"

    def _request(self, method: str) -> dict[str, Any]:
        request = urllib.request.Request(self.url, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            return json.loads(response.read())

    def get(self) -> dict[str, Any]:
        return self._request("GET")

    def reset(self) -> dict[str, Any]:
        return self._request("DELETE")


@pytest.fixture(scope="module")
def sim_stats(world: World) -> SimStats:
    return SimStats(world)
