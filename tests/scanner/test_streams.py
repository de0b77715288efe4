"""Findings streams partition a region's findings exactly, whatever the statistics say."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.collect.findings import plan_streams
from scanner.model import FindingsStatistics, TypeStatistics
from simulator.accessanalyzer import compile_filter
from simulator.scenario import RESOURCE_TYPES

findings_strategy = st.lists(
    st.fixed_dictionaries({
        "resourceType": st.sampled_from(RESOURCE_TYPES),
        "isPublic": st.one_of(st.booleans(), st.none()),  # None: the attribute is absent
        "status": st.sampled_from(["ACTIVE", "ARCHIVED", "RESOLVED"]),
        "error": st.one_of(st.none(), st.just("ACCESS_DENIED")),
    }),
    max_size=3000,
)


def strict_match(criteria, finding) -> bool:
    """The other reading of the API: a criterion never matches an absent attribute."""
    for key, criterion in criteria.items():
        value = finding.get(key)
        value = {True: "true", False: "false"}.get(value, value)
        if "exists" in criterion and (value is not None) != criterion["exists"]:
            return False
        if value is None and ("eq" in criterion or "neq" in criterion):
            return False
        if "eq" in criterion and value not in criterion["eq"]:
            return False
        if "neq" in criterion and value in criterion["neq"]:
            return False
    return True


def statistics_of(findings, drop: set[str]) -> FindingsStatistics:
    by_type: dict[str, list[int]] = {}
    for f in findings:
        if f["status"] != "ACTIVE" or f["resourceType"] in drop:
            continue
        entry = by_type.setdefault(f["resourceType"], [0, 0, 0])
        entry[2 if f["error"] or f["isPublic"] is None else 0 if f["isPublic"] else 1] += 1
    return FindingsStatistics(
        active=sum(sum(v) for v in by_type.values()), archived=0, resolved=0,
        by_type={t: TypeStatistics(*v) for t, v in by_type.items()})


@settings(max_examples=150, deadline=None)
@given(findings=findings_strategy, page_size=st.sampled_from([10, 25, 100]),
       stale=st.sets(st.sampled_from(RESOURCE_TYPES), max_size=3),
       statuses=st.sampled_from([("ACTIVE",), ("ACTIVE", "ARCHIVED")]),
       pages_per_stream=st.sampled_from([1, 2, 10]),
       wanted=st.one_of(st.none(), st.integers(1, 12)))
def test_streams_cover_every_wanted_finding_exactly_once(findings, page_size, stale, statuses,
                                                         pages_per_stream, wanted):
    # Statistics that miss some types (stale) must not make findings disappear.
    streams = plan_streams(statistics_of(findings, stale), statuses, page_size,
                           pages_per_stream=pages_per_stream, wanted=wanted)
    if wanted is None and len(findings) >= 20 * page_size * pages_per_stream and len(
            {f["resourceType"] for f in findings}) > 3:
        assert len(streams) > 1
    if wanted is not None:
        assert len(streams) <= max(1, wanted)
    predicates = [compile_filter(s.filter) for s in streams]
    for i, f in enumerate(findings):
        f = {k: v for k, v in {**f, "id": str(i)}.items() if v is not None}
        wanted = 1 if f["status"] in statuses else 0
        assert sum(1 for p in predicates if p(f)) == wanted
        assert sum(1 for s in streams if strict_match(s.filter, f)) == wanted
    assert 1 <= len(streams) <= 8
    for stream in streams:
        for criterion in stream.filter.values():
            for values in criterion.values():
                assert not isinstance(values, list) or 1 <= len(values) <= 20


def test_small_regions_get_one_stream_and_large_ones_several():
    small = FindingsStatistics(30, 0, 0, {"AWS::S3::Bucket": TypeStatistics(5, 25, 0)})
    assert [s.label for s in plan_streams(small, ("ACTIVE",), 100)] == ["all"]
    large = FindingsStatistics(40_000, 0, 0, {
        "AWS::S3::Bucket": TypeStatistics(3000, 13000, 0),
        "AWS::IAM::Role": TypeStatistics(0, 9000, 0),
        "AWS::KMS::Key": TypeStatistics(0, 8000, 0),
        "AWS::SQS::Queue": TypeStatistics(0, 7000, 0)})
    streams = plan_streams(large, ("ACTIVE",), 100)
    assert 4 <= len(streams) <= 8
    assert sum(s.expected for s in streams) == 40_000
    assert max(s.expected for s in streams) <= 13_000  # S3 was split by isPublic


def test_as_many_streams_as_the_region_takes_calls_at_once():
    """The driver asks for as many streams as the region's lane takes calls (its rate times
    its round trip); each is still worth a few pages."""
    stats = FindingsStatistics(1_300, 0, 0, {
        t: TypeStatistics(50, 210, 0) for t in RESOURCE_TYPES[:5]})
    assert len(plan_streams(stats, ("ACTIVE",), 100)) == 1  # 13 pages: one by page count
    assert len(plan_streams(stats, ("ACTIVE",), 100, wanted=4)) == 4
    assert len(plan_streams(stats, ("ACTIVE",), 100, wanted=1)) == 1
    few = FindingsStatistics(500, 0, 0, {t: TypeStatistics(20, 80, 0) for t in RESOURCE_TYPES[:5]})
    assert len(plan_streams(few, ("ACTIVE",), 100, wanted=6)) == 1  # 5 pages: not worth two


def test_many_stream_plans_partition_a_large_random_region():
    import random

    rng = random.Random(7)
    weights = [40, 5, 5, 5, 5, 5, 5, 5, 5]  # one busy type: it gets split by isPublic
    findings = []
    for i in range(5000):
        finding = {"id": str(i), "resourceType": rng.choices(RESOURCE_TYPES[:9], weights)[0],
                   "isPublic": rng.random() < 0.4, "status": "ACTIVE", "error": None}
        if rng.random() < 0.03:  # an error finding: no isPublic at all
            finding.update(error="ACCESS_DENIED", isPublic=None)
        findings.append(finding)
    for stale in (set(), {"AWS::KMS::Key", "AWS::SQS::Queue"}):
        for page_size in (10, 25):
            streams = plan_streams(statistics_of(findings, stale), ("ACTIVE",), page_size,
                                   pages_per_stream=2)
            assert len(streams) == 8
            assert any("isPublic" in s.filter for s in streams)
            predicates = [compile_filter(s.filter) for s in streams]
            present = [{k: v for k, v in f.items() if v is not None} for f in findings]
            assert all(sum(p(f) for p in predicates) == 1 for f in present)
            assert all(sum(strict_match(s.filter, f) for s in streams) == 1 for f in present)
