"""`simulator.generate.large_world`: benchmark scenarios, as documents `load_scenario` accepts."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator import load_scenario
from simulator.generate import (
    RESOURCE_TYPE_WEIGHTS,
    apportion,
    benchmark_regions,
    large_world,
    region_shares,
)
from simulator.scenario import CLASSIC_RESOURCE_TYPES, OPT_IN_REGIONS, all_regions

ROOT = Path(__file__).resolve().parents[2]


def test_small_generated_world_matches_its_arguments() -> None:
    doc = large_world(regions=5, accounts=12, findings=1_000, min_latency_ms=10,
                      max_latency_ms=50, rate_limit=4.0, seed=9)
    scenario = load_scenario(doc)
    org = scenario.organization
    assert org is not None
    assert len(org.accounts) == 12
    ids = [a.id for a in org.accounts]
    assert len(set(ids)) == 12 and all(len(i) == 12 and i.isdigit() for i in ids)
    assert org.trusted_access
    assert org.delegated_administrator in ids[1:]
    assert scenario.scanner_account == org.delegated_administrator
    assert list(scenario.regions) == benchmark_regions(5)
    assert next(iter(scenario.regions)) == "us-east-1"
    assert not OPT_IN_REGIONS & set(scenario.regions)
    assert scenario.enabled_regions == list(scenario.regions)
    assert [a.region for a in scenario.analyzers] == list(scenario.regions)
    assert all((a.type, a.status, a.account_id) == ("ORGANIZATION", "ACTIVE",
                                                    org.delegated_administrator)
               for a in scenario.analyzers)
    findings = [f for a in scenario.analyzers for f in a.findings]
    assert len(findings) == 1_000
    assert {f["status"] for f in findings} == {"ACTIVE"}
    assert {f["resourceOwnerAccount"] for f in findings} <= set(ids)
    latencies = [scenario.conditions_for(r).latency_ms for r in scenario.regions]
    assert latencies[0] == 10 and latencies[-1] == 50
    assert latencies == sorted(latencies)
    for region in scenario.regions:
        conditions = scenario.conditions_for(region)
        assert conditions.rate_limit == 4.0
        assert conditions.burst == 4
        assert conditions.jitter_ms == pytest.approx(conditions.latency_ms * 0.1, abs=0.05)


def test_generated_world_is_deterministic() -> None:
    assert large_world(regions=4, accounts=5, findings=200) == large_world(
        regions=4, accounts=5, findings=200)
    first = load_scenario(large_world(regions=3, accounts=5, findings=100, seed=1))
    second = load_scenario(large_world(regions=3, accounts=5, findings=100, seed=2))
    assert first.analyzers[0].findings != second.analyzers[0].findings


def test_opt_in_regions_are_enabled() -> None:
    doc = large_world(regions=len(all_regions()), accounts=3, findings=10)
    scenario = load_scenario(doc)
    assert set(doc["regions"]["opt_in_status"]) == OPT_IN_REGIONS & set(all_regions())
    assert scenario.enabled_regions == benchmark_regions(len(all_regions()))


@pytest.mark.parametrize("regions", [1, 2, 3, 10, 30, 34])
def test_region_shares(regions: int) -> None:
    shares = region_shares(regions)
    assert len(shares) == regions
    assert sum(shares) == pytest.approx(1.0)
    assert shares == sorted(shares, reverse=True)
    assert shares[0] == pytest.approx(max(0.4, 1 / regions), abs=1e-6)


@pytest.mark.parametrize("total", [0, 1, 7, 999, 100_000])
def test_apportion_is_exact(total: int) -> None:
    counts = apportion(total, region_shares(30))
    assert sum(counts) == total
    assert counts == sorted(counts, reverse=True)


def test_default_benchmark_world() -> None:
    """The benchmark's world as the benchmark asks for it (read from the generate
    specifications, without generating its 100,000 findings), and the same world at a
    twentieth of the size, generated, for the shape of what it generates."""
    doc = large_world()
    per_region = [sum(f["generate"]["count"] for f in a.get("findings", []))
                  for a in doc["analyzers"]]
    assert len(per_region) == len(doc["regions"]["universe"]) == 30
    assert sum(per_region) == 100_000
    assert per_region[0] == max(per_region)
    assert 0.38 <= per_region[0] / 100_000 <= 0.42
    assert per_region == sorted(per_region, reverse=True)
    small = large_world(findings=5_000)
    started = time.perf_counter()
    scenario = load_scenario(small)
    elapsed = time.perf_counter() - started
    generated = [len(a.findings) for a in scenario.analyzers]
    assert sum(generated) == 5_000 and generated == sorted(generated, reverse=True)
    assert len(scenario.organization.accounts) == 400
    latencies = [scenario.conditions_for(r).latency_ms for r in scenario.regions]
    assert (min(latencies), max(latencies)) == (40, 250)
    types = Counter(f["resourceType"] for a in scenario.analyzers for f in a.findings)
    assert set(CLASSIC_RESOURCE_TYPES) < set(types)
    assert set(types) == set(RESOURCE_TYPE_WEIGHTS)
    assert types.most_common(1)[0][0] == "AWS::S3::Bucket"
    assert types["AWS::S3::Bucket"] > 10 * types["AWS::RDS::DBSnapshot"]
    print(f"loading 5,000 generated findings took {elapsed:.2f} s")


def test_generate_command_writes_yaml_that_loads(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "generate", "--regions", "3", "--accounts", "6",
         "--findings", "50", "--min-latency-ms", "5", "--max-latency-ms", "15",
         "--rate-limit", "2.5", "--seed", "4"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "generated.yaml"
    path.write_text(result.stdout)
    scenario = load_scenario(path)
    assert sum(len(a.findings) for a in scenario.analyzers) == 50
    assert len(scenario.regions) == 3
    assert scenario.conditions_for(benchmark_regions(5)[2]).latency_ms == 15
    assert scenario.conditions_for(benchmark_regions(5)[0]).rate_limit == 2.5
    assert yaml.safe_load(result.stdout) == large_world(
        regions=3, accounts=6, findings=50, min_latency_ms=5, max_latency_ms=15,
        rate_limit=2.5, seed=4)


@pytest.mark.parametrize("kwargs", [
    {"regions": 0}, {"regions": 99}, {"accounts": 1}, {"findings": -1},
    {"min_latency_ms": 300, "max_latency_ms": 100}, {"rate_limit": 0},
])
def test_bad_arguments_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        large_world(**kwargs)
