"""Region conditions: denial, throttling, faults, latency, regions not enabled, statistics.

Error codes and HTTP statuses are checked exactly as botocore raises them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

DELEGATED_ADMIN = "222222222222"
# botocore reads retries["max_attempts"] as retries *after* the first attempt (max_attempts 1
# still retries once); total_max_attempts counts the first attempt too, so 1 means no retries.
NO_RETRIES = {"retries": {"total_max_attempts": 1, "mode": "standard"}}
STANDARD_RETRIES = {"retries": {"mode": "standard", "max_attempts": 10}}

NORMAL = "us-east-1"
DENIED = "us-east-2"
THROTTLED = "us-west-1"  # rate limit 5/s, burst 1: for ThrottlingException without retries
RETRIED = "eu-north-1"  # rate limit 5/s, burst 1: for botocore's standard retry mode
BROKEN = "us-west-2"  # every call a 500
FLAKY = "eu-west-1"  # 30% of the calls a 500
SLOW = "eu-central-1"  # 200 ms per call
BURST = "ca-central-1"  # the first 3 calls throttled, then no limit at all
NOT_ENABLED = "ap-east-1"  # opt-in region left DISABLED


@pytest.fixture(scope="module")
def scenario_doc() -> dict[str, Any]:
    enabled = [NORMAL, DENIED, THROTTLED, RETRIED, BROKEN, FLAKY, SLOW, BURST]
    return {
        "name": "conditions",
        "seed": 5,
        "organization": {
            "management_account": {"id": "111111111111", "name": "management"},
            "accounts": [{"id": DELEGATED_ADMIN, "name": "security"}],
            "delegated_administrator": "security",
        },
        "regions": {"universe": [*enabled, NOT_ENABLED]},
        "conditions": {
            DENIED: {"deny": True},
            THROTTLED: {"rate_limit": 5, "burst": 1},
            RETRIED: {"rate_limit": 5, "burst": 1},
            BROKEN: {"error_rate": 1.0},
            FLAKY: {"error_rate": 0.3},
            SLOW: {"latency_ms": 200},
            BURST: {"throttle_first": 3},
        },
        "analyzers": [{"name": "org", "type": "ORGANIZATION", "regions": enabled}],
    }


def test_normal_region_answers(world: Any) -> None:
    assert [a["name"] for a in world.client("accessanalyzer", NORMAL).list_analyzers()[
        "analyzers"]] == ["org"]


def test_denied_region_raises_access_denied(world: Any, raises_aws: Any) -> None:
    client = world.client("accessanalyzer", DENIED, **NO_RETRIES)
    with raises_aws("AccessDeniedException", 403) as info:
        client.list_analyzers()
    assert "explicit deny in a service control policy" in info.value.response["Error"]["Message"]
    with raises_aws("AccessDeniedException", 403):
        client.get_analyzer(analyzerName="org")


def test_region_not_enabled_raises_unrecognized_client(world: Any, raises_aws: Any) -> None:
    assert world.scenario.regions[NOT_ENABLED] == "DISABLED"
    client = world.client("accessanalyzer", NOT_ENABLED, **NO_RETRIES)
    with raises_aws("UnrecognizedClientException", 403):
        client.list_analyzers()


def test_rate_limit_raises_throttling_without_retries(world: Any, raises_aws: Any,
                                                      sim_stats: Any) -> None:
    sim_stats.reset()
    client = world.client("accessanalyzer", THROTTLED, **NO_RETRIES)
    # Burst 1: the first call takes the only token; one of the next quick calls must fail.
    with raises_aws("ThrottlingException", 429):
        for _ in range(20):
            client.list_analyzers()
    assert sim_stats.get()["throttles"][THROTTLED] >= 1


def test_throttle_first_throttles_only_the_first_calls(world: Any, raises_aws: Any,
                                                     sim_stats: Any) -> None:
    sim_stats.reset()
    client = world.client("accessanalyzer", BURST, **NO_RETRIES)
    for _ in range(3):  # whatever the operation: the region's first calls
        with raises_aws("ThrottlingException", 429):
            client.get_analyzer(analyzerName="org")
    time.sleep(0.2)  # as a client's backoff would
    for _ in range(20):  # then everything, at any rate
        assert [a["name"] for a in client.list_analyzers()["analyzers"]] == ["org"]
    stats = sim_stats.get()
    assert stats["throttles"] == {BURST: 3}
    assert stats["calls"]["access-analyzer"][BURST] == {"GetAnalyzer": 3, "ListAnalyzers": 20}
    assert 0.2 <= stats["seconds_to_first_unthrottled"][BURST] < 5


def test_error_rate_one_raises_internal_server_error(world: Any, raises_aws: Any,
                                                     sim_stats: Any) -> None:
    sim_stats.reset()
    client = world.client("accessanalyzer", BROKEN, **NO_RETRIES)
    for _ in range(3):
        with raises_aws("InternalServerException", 500):
            client.list_analyzers()
    stats = sim_stats.get()
    # Without retries, the world saw exactly the three calls made.
    assert stats["calls"]["access-analyzer"][BROKEN] == {"ListAnalyzers": 3}
    assert stats["faults"] == {BROKEN: 3}


def test_standard_retries_recover_from_throttling(world: Any, sim_stats: Any) -> None:
    sim_stats.reset()
    clients = [world.client("accessanalyzer", RETRIED, **STANDARD_RETRIES) for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    results: list[Any] = []
    errors: list[BaseException] = []

    def call(client: Any) -> None:
        barrier.wait()
        try:
            results.append(client.list_analyzers()["analyzers"])
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(results) == len(clients)
    assert all([a["name"] for a in r] == ["org"] for r in results)
    stats = sim_stats.get()
    assert stats["throttles"].get(RETRIED, 0) > 0
    # Every retry is a call the world saw: more calls than callers.
    calls = stats["calls"]["access-analyzer"][RETRIED]["ListAnalyzers"]
    assert calls == len(clients) + stats["throttles"][RETRIED]


def test_standard_retries_recover_from_intermittent_errors(world: Any, sim_stats: Any) -> None:
    sim_stats.reset()
    client = world.client("accessanalyzer", FLAKY, **STANDARD_RETRIES)
    for _ in range(20):
        assert [a["name"] for a in client.list_analyzers()["analyzers"]] == ["org"]
    stats = sim_stats.get()
    assert stats["faults"].get(FLAKY, 0) > 0
    assert stats["calls"]["access-analyzer"][FLAKY]["ListAnalyzers"] == 20 + stats["faults"][
        FLAKY]


def test_latency_is_applied(world: Any) -> None:
    client = world.client("accessanalyzer", SLOW)
    client.list_analyzers()  # connection set up outside the measurement
    started = time.perf_counter()
    client.get_analyzer(analyzerName="org")
    assert time.perf_counter() - started >= 0.2


def test_stats_count_calls_per_operation_and_region(world: Any, sim_stats: Any) -> None:
    assert sim_stats.reset()["total_calls"] == 0
    normal = world.client("accessanalyzer", NORMAL)
    for _ in range(3):
        normal.list_analyzers()
    for _ in range(2):
        normal.get_analyzer(analyzerName="org")
    denied = world.client("accessanalyzer", DENIED, **NO_RETRIES)
    with pytest.raises(denied.exceptions.AccessDeniedException):
        denied.list_analyzers()
    stats = sim_stats.get()
    assert stats["calls"] == {"access-analyzer": {
        NORMAL: {"ListAnalyzers": 3, "GetAnalyzer": 2},
        DENIED: {"ListAnalyzers": 1},
    }}
    assert stats["total_calls"] == 6
    assert stats["denials"] == {DENIED: 1}
    assert stats["throttles"] == {}
    assert stats["faults"] == {}
    assert stats["peak_concurrent_requests"] == 1
    assert stats["seconds_to_first_unthrottled"].keys() == {NORMAL, DENIED}
    assert stats["seconds_to_first_unthrottled"][NORMAL] == 0.0  # through at once


def test_stats_report_peak_concurrency_and_reset(world: Any, sim_stats: Any) -> None:
    sim_stats.reset()
    clients = [world.client("accessanalyzer", SLOW) for _ in range(4)]
    barrier = threading.Barrier(len(clients))

    def call(client: Any) -> None:
        barrier.wait()
        client.list_analyzers()

    threads = [threading.Thread(target=call, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    stats = sim_stats.get()
    assert stats["calls"]["access-analyzer"][SLOW]["ListAnalyzers"] == 4
    # Four callers released together into 200 ms of latency overlap.
    assert stats["peak_concurrent_requests"] >= 2
    assert stats["peak_concurrent_requests_by_region"][SLOW] >= 2
    after = sim_stats.reset()
    assert after["calls"] == {}
    assert after["total_calls"] == 0
    assert after["peak_concurrent_requests"] == 0
    assert sim_stats.get()["total_calls"] == 0
