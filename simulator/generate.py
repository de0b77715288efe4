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


MEMBER_ROLE = "MemberAudit"


def member_world(
    accounts: int = 1_000,
    regions: int = 17,
    min_latency_ms: float = 40,
    max_latency_ms: float = 250,
    rate_limit: float = 10.0,
    sts_rate_limit: float = 20.0,
    sts_latency_ms: float = 60,
    suspended_every: int = 50,
    without_role_every: int = 100,
    session_seconds: int | None = None,
) -> dict[str, Any]:
    """A scenario document for the member view at organization scale.

    The organization of `large_world` (no findings), and in each account the member role
    (`MEMBER_ROLE`) and its own analyzers, so that every cell kind occurs: every
    `suspended_every`-th member is SUSPENDED, every `without_role_every`-th has no role (an
    ERROR account); the others own an ACTIVE ACCOUNT analyzer in every region (a third of
    them), in the first half of the regions (a third: PASS there, FAIL elsewhere), or none
    (FAIL everywhere; a FAILED analyzer in the first region for some). STS answers after
    `sts_latency_ms` (jitter 25%) and throttles beyond `sts_rate_limit` requests per second.
    Every analyzer is written once per group of accounts (`accounts:`), so the document
    stays small.
    """
    if accounts < 3:
        raise ValueError(f"accounts must be at least 3, got {accounts}")
    document = large_world(regions=regions, accounts=accounts, findings=0,
                           min_latency_ms=min_latency_ms, max_latency_ms=max_latency_ms,
                           rate_limit=rate_limit)
    organization = document["organization"]
    members = organization["accounts"]
    for index, member in enumerate(members[1:], start=1):
        if suspended_every and index % suspended_every == 0:
            member["status"] = "SUSPENDED"
    everyone = [organization["management_account"]["id"], *(m["id"] for m in members)]
    with_role = [a for i, a in enumerate(everyone)
                 if not (without_role_every and i and i % without_role_every == 0)]
    universe = document["regions"]["universe"]
    groups: dict[str, list[str]] = {"all": [], "half": [], "none": [], "failed": []}
    for index, account in enumerate(everyone):
        group = ("all", "half", "none")[index % 3]
        groups["failed" if group == "none" and index % 2 else group].append(account)
    document["analyzers"] += [
        {"name": "account-external-access", "type": "ACCOUNT", "regions": universe,
         "accounts": groups["all"]},
        {"name": "account-external-access", "type": "ACCOUNT",
         "regions": universe[:max(1, len(universe) // 2)], "accounts": groups["half"]},
        {"name": "account-external-access", "type": "ACCOUNT", "regions": universe[:1],
         "accounts": groups["failed"], "status": "FAILED"},
    ]
    document["roles"] = [{"name": MEMBER_ROLE, "accounts": with_role}]
    sts: dict[str, Any] = {"rate_limit": float(sts_rate_limit),
                           "burst": max(1, round(sts_rate_limit)),
                           "latency_ms": float(sts_latency_ms),
                           "jitter_ms": round(sts_latency_ms / 4, 1)}
    if session_seconds is not None:
        sts["session_seconds"] = session_seconds
    document["sts"] = sts
    document["name"] = f"members-{regions}r-{accounts}a"
    document["description"] = (f"Generated member-view organization: {accounts} accounts, "
                               f"{regions} regions, STS at {sts_rate_limit:g} rps.")
    return document


def expected_member_cells(document: dict[str, Any]) -> dict[str, dict[str, str] | str]:
    """What the member view must say for a `member_world` document: per account, its region
    cells (PASS / FAIL), or SUSPENDED, or ERROR (no role)."""
    organization = document["organization"]
    everyone = [organization["management_account"], *organization["accounts"]]
    roles = set(document["roles"][0]["accounts"])
    universe = document["regions"]["universe"]
    active: dict[str, set[str]] = {}  # an ACTIVE external-access analyzer of its own
    for spec in document["analyzers"]:
        if (spec["type"] in ("ACCOUNT", "ORGANIZATION")
                and spec.get("status", "ACTIVE") == "ACTIVE"):
            for account in spec.get("accounts") or [spec["account"]]:
                active.setdefault(account, set()).update(spec.get("regions") or
                                                         [spec["region"]])
    expected: dict[str, dict[str, str] | str] = {}
    for account in everyone:
        if account.get("status") == "SUSPENDED":
            expected[account["id"]] = "SUSPENDED"
        elif account["id"] not in roles:
            expected[account["id"]] = "ERROR"
        else:
            owned = active.get(account["id"], set())
            expected[account["id"]] = {r: "PASS" if r in owned else "FAIL" for r in universe}
    return expected
