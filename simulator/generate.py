"""Large generated scenarios for benchmarks (`python -m simulator generate`).

`large_world()` returns a scenario *document*: the same plain dict `load_scenario` accepts
from YAML, so it can be loaded directly or written out with `yaml.safe_dump`. Everything in
it is deterministic for a given set of arguments.
"""

from __future__ import annotations

from typing import Any

from .scenario import OPT_IN_REGIONS, all_regions

# Resource types weighted roughly as real organizations see them: the seven classic types
# that every external access analyzer covers, then a few newer ones.
RESOURCE_TYPE_WEIGHTS: dict[str, float] = {
    "AWS::S3::Bucket": 30,
    "AWS::IAM::Role": 24,
    "AWS::KMS::Key": 12,
    "AWS::Lambda::Function": 8,
    "AWS::SQS::Queue": 6,
    "AWS::SecretsManager::Secret": 5,
    "AWS::Lambda::LayerVersion": 2,
    "AWS::SNS::Topic": 4,
    "AWS::ECR::Repository": 3,
    "AWS::EFS::FileSystem": 2,
    "AWS::DynamoDB::Table": 2,
    "AWS::RDS::DBSnapshot": 1,
    "AWS::EC2::Snapshot": 1,
}
LARGEST_REGION_SHARE = 0.4
MANAGEMENT_ACCOUNT_ID = "100000000000"
ANALYZER_NAME = "org-external-access"


def account_ids(accounts: int) -> list[str]:
    """The management account first, then the members: 12-digit ids, all distinct."""
    return [f"{int(MANAGEMENT_ACCOUNT_ID) + i:012d}" for i in range(accounts)]


def region_shares(count: int, largest: float = LARGEST_REGION_SHARE) -> list[float]:
    """Geometrically decreasing shares summing to 1, the first one `largest`.

    With too few regions for the first one to hold only `largest` (e.g. 2 regions and 0.4),
    the shares are as even as a decreasing sequence allows.
    """
    if count <= 0:
        return []
    target = max(largest, 1.0 / count)

    def first_share(ratio: float) -> float:
        return (1 - ratio) / (1 - ratio**count) if ratio < 1 else 1.0 / count

    # first_share decreases from 1 (ratio 0) to 1/count (ratio 1): bisect for the target.
    low, high = 0.0, 1.0
    for _ in range(100):
        middle = (low + high) / 2
        if first_share(middle) > target:
            low = middle
        else:
            high = middle
    ratio = (low + high) / 2
    raw = [ratio**i for i in range(count)]
    total = sum(raw)
    return [r / total for r in raw]


def apportion(total: int, shares: list[float]) -> list[int]:
    """Integers proportional to `shares` that add up to exactly `total` (largest remainder)."""
    exact = [total * s for s in shares]
    counts = [int(e) for e in exact]
    missing = total - sum(counts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[:missing]:
        counts[i] += 1
    return counts


def benchmark_regions(count: int) -> list[str]:
    """The first `count` regions: us-east-1 (the usual busiest) first, then the other regions
    enabled by default, then opt-in ones."""
    ordered = sorted(all_regions(), key=lambda r: (r in OPT_IN_REGIONS, r != "us-east-1", r))
    return ordered[:count]


def large_world(
    regions: int = 30,
    accounts: int = 400,
    findings: int = 100_000,
    min_latency_ms: float = 40,
    max_latency_ms: float = 250,
    rate_limit: float = 10.0,
    seed: int = 1,
) -> dict[str, Any]:
    """A scenario document for benchmarks.

    An organization of `accounts` accounts (the management account plus members), the
    first member its delegated administrator for Access Analyzer and the scanning account,
    trusted access on; the first `regions` regions botocore knows, all enabled (opt-in ones
    set ENABLED); one ACTIVE ORGANIZATION analyzer per region, holding `findings` ACTIVE
    findings in all, geometrically skewed so the first region holds about 40%; per-region
    latency spread linearly from `min_latency_ms` to `max_latency_ms` (jitter 10%) and a
    token-bucket rate limit of `rate_limit` requests per second (burst = rate limit).
    """
    known = all_regions()
    if not 1 <= regions <= len(known):
        raise ValueError(f"regions must be between 1 and {len(known)}, got {regions}")
    if accounts < 2:
        raise ValueError(f"accounts must be at least 2 (management + delegated "
                         f"administrator), got {accounts}")
    if findings < 0:
        raise ValueError(f"findings must be at least 0, got {findings}")
    if not 0 <= min_latency_ms <= max_latency_ms:
        raise ValueError("need 0 <= min_latency_ms <= max_latency_ms")
    if rate_limit <= 0:
        raise ValueError(f"rate_limit must be positive, got {rate_limit}")

    universe = benchmark_regions(regions)
    ids = account_ids(accounts)
    width = len(str(accounts - 1))
    members = [{"id": ids[i], "name": f"member-{i:0{width}d}"} for i in range(1, accounts)]
    members[0]["name"] = "security-tooling"
    delegated_administrator = members[0]["id"]

    counts = apportion(findings, region_shares(regions))
    conditions: dict[str, Any] = {}
    analyzers: list[dict[str, Any]] = []
    burst = max(1, round(rate_limit))
    for index, (region, count) in enumerate(zip(universe, counts, strict=True)):
        fraction = index / (regions - 1) if regions > 1 else 0.0
        latency = round(min_latency_ms + (max_latency_ms - min_latency_ms) * fraction, 1)
        conditions[region] = {"latency_ms": latency, "jitter_ms": round(latency * 0.1, 1),
                              "rate_limit": float(rate_limit), "burst": burst}
        analyzers.append({
            "name": ANALYZER_NAME,
            "type": "ORGANIZATION",
            "region": region,
            "account": delegated_administrator,
            "findings": [{"generate": {
                "count": count,
                "resource_types": dict(RESOURCE_TYPE_WEIGHTS),
                "public_share": 0.15,
                "statuses": {"ACTIVE": 1},
            }}],
        })

    return {
        "name": f"large-{regions}r-{accounts}a-{findings}f",
        "description": (f"Generated benchmark organization: {accounts} accounts, {regions} "
                        f"regions, {findings} active findings (seed {seed})."),
        "seed": seed,
        "organization": {
            "management_account": {"id": ids[0], "name": "management"},
            "accounts": members,
            "trusted_access": True,
            "delegated_administrator": delegated_administrator,
        },
        "scanner": {"account": delegated_administrator, "role_name": "AuditRole"},
        "regions": {
            "universe": list(universe),
            "opt_in_status": {r: "ENABLED" for r in universe if r in OPT_IN_REGIONS},
        },
        "conditions": conditions,
        "analyzers": analyzers,
    }
