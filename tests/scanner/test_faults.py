"""Faults from the simulated organization: the scan completes, counts stay exact or are
marked incomplete, and nothing hangs."""

from __future__ import annotations

import time

from .conftest import env_world

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def analyzers(count: int = 0, regions=REGIONS):
    entry = {"type": "ORGANIZATION", "name": "org", "regions": regions}
    if count:
        entry["findings"] = [{"generate": {"count": count}}]
    return [entry]


def test_throttling_storm_ends_with_exact_counts(monkeypatch, run_scan):
    # 8 requests per second, bursts of 1, 16 workers and a limiter that starts at 10 per
    # second pushing 12+ pages: a storm, just big enough to prove the counts stay exact.
    with env_world(monkeypatch, page_size_cap=10, analyzers=analyzers(120, ["us-east-1"]),
                   conditions={"us-east-1": {"rate_limit": 8, "burst": 1}}) as world:
        run = run_scan("--workers", "16")
        stats = world.stats.snapshot()
    assert stats["throttles"].get("us-east-1", 0) > 0  # the storm happened
    region = run.region("us-east-1")
    assert region["complete"] is True and region["status"] == "COVERED"
    assert sum(c["active"] for c in region["findings"].values()) == 120
    assert len({f["id"] for f in run.document["findings"]}) == 120
    assert run.code == 1  # the other regions have no analyzer; nothing is incomplete


def test_region_denying_every_call_is_error_and_the_rest_completes(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=analyzers(20),
                   conditions={"eu-west-1": {"deny": True}}):
        run = run_scan()
    denied = run.region("eu-west-1")
    assert (denied["status"], denied["reason"]) == ("ERROR", "AccessDeniedException")
    assert "service control policy" in denied["detail"]
    assert run.region("us-east-1")["status"] == "COVERED"
    assert run.region("ap-southeast-2")["status"] == "COVERED"
    assert run.code == 3


def test_listed_region_that_rejects_the_credentials_is_error_not_a_hang(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=analyzers(),
                   conditions={"ap-southeast-2": {"reject_credentials": True}}):
        run = run_scan()
    region = run.region("ap-southeast-2")
    assert (region["status"], region["reason"]) == ("ERROR", "UnrecognizedClientException")
    assert "not enabled" in region["detail"]
    assert run.code == 3


def test_region_that_stops_answering_is_bounded_by_timeouts(monkeypatch, run_scan, tmp_path):
    config = tmp_path / "fast.yaml"
    config.write_text("aws: {read_timeout: 0.5, connect_timeout: 1, max_attempts: 2}\n")
    with env_world(monkeypatch, analyzers=analyzers(5),
                   conditions={"eu-west-1": {"hang_seconds": 30}}):
        started = time.monotonic()
        run = run_scan("--config", str(config))
        elapsed = time.monotonic() - started
    region = run.region("eu-west-1")
    assert region["status"] == "ERROR"
    assert region["reason"] in ("ReadTimeoutError", "ConnectTimeoutError")
    assert "did not answer in time" in region["detail"]
    assert run.region("us-east-1")["status"] == "COVERED"
    assert elapsed < 25  # a hang would take the server's 30 s per attempt
    assert run.code == 3


def test_intermittent_500s_are_retried(monkeypatch, run_scan):
    with env_world(monkeypatch, page_size_cap=10, analyzers=analyzers(120),
                   conditions={"default": {"error_rate": 0.25}}) as world:
        run = run_scan()
        faults = world.stats.snapshot()["faults"]
    assert sum(faults.values()) > 0
    assert all(run.region(r)["complete"] for r in REGIONS)
    assert run.document["summary"]["active_findings"] == len(run.document["findings"])
    assert run.document["summary"]["complete"] is True


def test_retries_running_out_mid_pagination_mark_the_region_incomplete(monkeypatch, run_scan,
                                                                       tmp_path):
    config = tmp_path / "few.yaml"
    config.write_text("aws: {max_attempts: 2, retry_mode: standard}\n")
    # ListAnalyzers, statistics, archive rules and two pages succeed; then ListFindings fails.
    conditions = {"us-east-1": {"error_rate": 1.0, "error_operations": ["ListFindings"],
                                "error_after": 5}}
    with env_world(monkeypatch, page_size_cap=10, analyzers=analyzers(100, ["us-east-1"]),
                   regions={"universe": ["us-east-1"]}, conditions=conditions):
        run = run_scan("--config", str(config))
    region = run.region("us-east-1")
    assert region["status"] == "COVERED"  # coverage is known
    assert region["complete"] is False
    assert region["error"]["code"] == "InternalServerException"
    collected = sum(c["active"] for c in region["findings"].values())
    assert 0 < collected < 100
    assert run.document["summary"]["complete"] is False
    assert run.document["summary"]["verdict"] == "INCOMPLETE"
    assert "incomplete" in run.out.lower() and "+" in run.out
    assert run.code == 3


def test_a_service_that_repeats_its_page_token_cannot_loop_the_scan(monkeypatch, run_scan):
    import scanner.run as run

    real = run.read_page
    calls = {"n": 0}

    def looping(client, analyzer, region, stream, token, page_size):
        calls["n"] += 1
        if token is None:
            findings, _ = real(client, analyzer, region, stream, None, page_size)
            return findings, "the-same-token"
        return [], "the-same-token"

    monkeypatch.setattr(run, "read_page", looping)
    with env_world(monkeypatch, page_size_cap=10, analyzers=analyzers(50, ["us-east-1"]),
                   regions={"universe": ["us-east-1"]}):
        result = run_scan()
    region = result.region("us-east-1")
    assert region["complete"] is False and region["error"]["code"] == "PaginationLoop"
    assert calls["n"] == 2  # the first page, then the repeat that was refused
    assert result.code == 3


def test_a_region_whose_client_cannot_be_built_is_not_assessed(monkeypatch, run_scan):
    from botocore.exceptions import InvalidRegionError

    from scanner.aws import ClientFactory

    real = ClientFactory.accessanalyzer

    def accessanalyzer(self, region):
        if region == "eu-west-1":
            raise InvalidRegionError(region_name=region)
        return real(self, region)

    monkeypatch.setattr(ClientFactory, "accessanalyzer", accessanalyzer)
    with env_world(monkeypatch, analyzers=analyzers(5)):
        run = run_scan()
    region = run.region("eu-west-1")
    assert (region["status"], region["reason"]) == ("ERROR", "InvalidRegionError")
    assert run.region("us-east-1")["status"] == "COVERED"
    assert run.code == 3


def test_a_burst_of_throttles_at_the_start_leaves_the_region_at_full_speed(monkeypatch):
    from scanner.aws import ClientFactory, make_session
    from scanner.config import Options
    from scanner.run import run_scan

    # The region's first call (ListAnalyzers) is throttled five times in a row: retried on
    # the limiter's schedule (from 25 ms, doubling), each retry sent after the limiter
    # reacted to the one before, not after botocore's backoff (up to 31 s in all).
    with env_world(monkeypatch, regions={"universe": ["us-east-1"]},
                   analyzers=analyzers(2000, ["us-east-1"]),
                   conditions={"us-east-1": {"throttle_first": 5, "latency_ms": 20}}) as world:
        options = Options()
        factory = ClientFactory(make_session(options), options)
        result = run_scan(options, factory)
        stats = world.stats.snapshot()
    assert stats["throttles"] == {"us-east-1": 5}
    (region,) = result.regions
    assert region.analyzers_error is None and region.findings_errors == ()
    assert len({f["id"] for f in region.findings}) == 2000
    limiter = factory.limiters["us-east-1"]
    assert limiter.throttles == 5
    assert limiter.rate >= 10  # back to the initial rate at least, not collapsed
