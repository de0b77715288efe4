"""What changed, end to end, in the cases an adversarial review of issue 19's first rework
found wrong: a requirement changed in between, pruning, organization checks a run could not
judge, finding age, a region called not enabled from an error, gates failing on what was not
compared, and runs with no usable baseline. Each test runs two to four scans of a simulated
organization into one history; each failed on that first rework.

Self-contained: only the project's simulated-organization fixtures (tests/scanner/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import env_world

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
MEMBER = "333333333333"


def grants(n: int, tag: str, public: int = 0, owner: str = MEMBER, ids: str = "0",
           created: str = "2026-10-01T00:00:00Z") -> list[dict]:
    """n findings with fixed grants; `ids` picks a family of ids (a re-created analyzer
    reports the same grants under new ids)."""
    return [{"id": f"{ids * 8}-0000-4000-8000-{tag}{i:09d}",
             "resource": f"arn:aws:s3:::{tag}-bucket-{i}", "owner": owner,
             "resource_type": "AWS::S3::Bucket", "public": i < public,
             "principal": {"AWS": "*" if i < public else "arn:aws:iam::999999999999:root"},
             "action": ["s3:GetObject"], "created_at": created}
            for i in range(n)]


def org(region: str, findings=(), **extra) -> dict:
    return {"type": "ORGANIZATION", "name": "org", "region": region,
            "findings": list(findings), **extra}


def internal(region: str) -> dict:
    return {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal", "region": region}


def config(tmp_path: Path, name: str, *types: str, **more: str) -> str:
    path = tmp_path / f"{name}.yaml"
    lines = [f"coverage_types: [{', '.join(types)}]"] + [f"{k}: {v}" for k, v in more.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def unknown(run) -> dict[str, str]:
    return {u["region"]: u["reason"] for u in run.document["changes"]["unknown"]}


# -- A0. A gap fixed under another requirement is still "open" for the next run ----------------

def test_a_gap_fixed_in_a_run_of_another_requirement_and_reopened_fails_new_gaps(
        monkeypatch, run_scan, tmp_path):
    """ORGANIZATION is the primary type of every requirement, and its gaps are judged the
    same whatever else is required. Run 1 ([ORGANIZATION]): us-east-1 has no analyzer. Run 2
    ([ORGANIZATION, ORGANIZATION_INTERNAL_ACCESS], the baseline of run 3): the analyzer
    exists, us-east-1 is COVERED. Run 3 ([ORGANIZATION]): the analyzer is gone again. The
    region is compared with run 1 (the latest run "under the same requirement"), where the
    gap existed: "+0 gaps", --fail-on new-gaps exits 0 on a HIGH gap its baseline did not
    have. Expected: a gap about type T is compared with the latest run that assessed the
    region with T required (as _organization_gaps already does per type): +1 gap, exit 1."""
    narrow = config(tmp_path, "narrow", "ORGANIZATION")
    wide = config(tmp_path, "wide", "ORGANIZATION", "ORGANIZATION_INTERNAL_ACCESS")
    rest = [org("eu-west-1"), org("ap-southeast-2"), *(internal(r) for r in REGIONS)]
    with env_world(monkeypatch, analyzers=rest):
        first = run_scan("--config", narrow)
    with env_world(monkeypatch, analyzers=[org("us-east-1"), *rest]):
        fixed = run_scan("--config", wide)
    with env_world(monkeypatch, analyzers=rest):
        reopened = run_scan("--config", narrow, "--fail-on", "new-gaps")
    assert [g["region"] for g in first.document["gaps"]] == ["us-east-1"]
    assert fixed.document["gaps"] == []
    changes = reopened.document["changes"]
    assert changes["baseline"]["run_id"] == fixed.document["run_id"]
    assert [(g["region"], g["code"]) for g in changes["gaps_opened"]] == [
        ("us-east-1", "NO_ANALYZER")], (changes["compared_with"], changes["unknown"])
    assert reopened.code == 1


# -- A. Pruning keeps "each region's latest knowledge" of any requirement / zone of trust; the
#       walk then skips the newer run that pruning deleted and lands on an older one ----------

@pytest.mark.parametrize("keep", [None, 1])
def test_pruning_never_lets_a_reopened_gap_pass_new_gaps(monkeypatch, run_scan, tmp_path,
                                                         keep):
    """Requirement [ORGANIZATION, ORGANIZATION_INTERNAL_ACCESS]: us-east-1 has no internal
    analyzer (run 1), gets one (run 2), a run requires [ORGANIZATION] only (run 3), and the
    internal analyzer is deleted again (run 4). ap-southeast-2 is left out of runs 2-4, so
    run 1 stays protected as its latest knowledge, while run 2 -- the latest run that knew
    us-east-1 under run 4's requirement -- is pruned (history.keep: 1). Run 4 is compared
    with run 1, where the gap already existed: "+0 gaps", new-gaps exits 0.
    Expected (as without pruning, keep=None): the gap reopened since run 2 is new; exit 1.
    (Uses an additional type so that it still holds once gaps are compared per type.)"""
    history = tmp_path / "h.sqlite"
    setting = f"{{path: {history}" + (f", keep: {keep}}}" if keep else "}")
    narrow = config(tmp_path, "narrow", "ORGANIZATION", history=setting)
    wide = config(tmp_path, "wide", "ORGANIZATION", "ORGANIZATION_INTERNAL_ACCESS",
                  history=setting)
    rest = [*(org(r) for r in REGIONS), *(internal(r) for r in REGIONS[1:])]
    without, with_ = rest, [internal("us-east-1"), *rest]
    with env_world(monkeypatch, analyzers=without):
        first = run_scan("--config", wide)
    with env_world(monkeypatch, analyzers=with_):
        fixed = run_scan("--config", wide, "--exclude", "ap-southeast-2")
        run_scan("--config", narrow, "--exclude", "ap-southeast-2")
    with env_world(monkeypatch, analyzers=without):
        reopened = run_scan("--config", wide, "--exclude", "ap-southeast-2",
                            "--fail-on", "new-gaps")
    assert [(g["region"], g["analyzer_type"]) for g in first.document["gaps"]] == [
        ("us-east-1", "ORGANIZATION_INTERNAL_ACCESS")]
    assert fixed.document["gaps"] == []
    changes = reopened.document["changes"]
    assert [(g["region"], g["code"]) for g in changes["gaps_opened"]] == [
        ("us-east-1", "MISSING_REQUIRED_TYPE")], changes["compared_with"]
    assert reopened.code == 1


@pytest.mark.parametrize("keep", [None, 1])
def test_pruning_never_lets_a_public_finding_back_pass_new_public(monkeypatch, run_scan,
                                                                 tmp_path, keep):
    """The same with findings and a zone-of-trust change: a public finding (run 1) is gone
    (run 2), findings are read through an ACCOUNT analyzer for a run (run 3), and the
    public finding is back under the organization analyzer (run 4). Pruning keeps run 1
    (ap-southeast-2's latest knowledge) and deletes run 2; run 4 matches the finding to
    run 1's and new-public exits 0. Expected (as without pruning): new public; exit 1."""
    history = tmp_path / "h.sqlite"
    setting = f"{{path: {history}" + (f", keep: {keep}}}" if keep else "}")
    cfg = config(tmp_path, "c", "ORGANIZATION", history=setting)
    public = grants(1, "100", public=1)
    rest = [org("eu-west-1"), org("ap-southeast-2")]
    account = {"type": "ACCOUNT", "name": "acct", "region": "us-east-1"}
    with env_world(monkeypatch, analyzers=[org("us-east-1", public), *rest]):
        run_scan("--config", cfg)
    with env_world(monkeypatch, analyzers=[org("us-east-1"), *rest]):
        gone = run_scan("--config", cfg, "--exclude", "ap-southeast-2")
    with env_world(monkeypatch, analyzers=[account, *rest]):
        run_scan("--config", cfg, "--exclude", "ap-southeast-2")
    with env_world(monkeypatch, analyzers=[org("us-east-1", public), *rest]):
        back = run_scan("--config", cfg, "--exclude", "ap-southeast-2",
                        "--fail-on", "new-public")
    assert gone.document["summary"]["public_findings"] == 0
    changes = back.document["changes"]
    # Run 3 read us-east-1 through another zone of trust: run 4 is not compared with what
    # came before it (the public finding counts as new exposure), never matched to run 1's.
    assert changes["findings_new"] == [] and changes["findings_closed"] == []
    assert changes["not_compared"]["public_findings"] == 1, changes["unknown"]
    assert back.code == 1


# -- B. An organization gap that a run could not judge is "closed", then "opened" again ---------

def test_an_organization_wide_gap_not_judged_is_neither_closed_nor_reopened(monkeypatch,
                                                                          run_scan, tmp_path):
    """coverage_types includes ORGANIZATION_UNUSED_ACCESS (met by one analyzer anywhere) and
    none exists: an organization gap. A run that leaves a region out cannot judge that
    requirement (it is INCOMPLETE, rightly) -- yet its changes say the gap was closed, and
    the next full run, whose baseline is that run, says it opened: --fail-on new-gaps exits 1
    on an unchanged world. Expected: the gap is "not compared" in the narrow run (never
    closed), and the next run compares it with the last run that judged it (exit 0)."""
    both = config(tmp_path, "unused", "ORGANIZATION", "ORGANIZATION_UNUSED_ACCESS")
    with env_world(monkeypatch, analyzers=[org(r) for r in REGIONS]):
        first = run_scan("--config", both)
        narrow = run_scan("--config", both, "--exclude", "ap-southeast-2")
        again = run_scan("--config", both, "--fail-on", "new-gaps")
    assert [(g["scope"], g["code"]) for g in first.document["gaps"]] == [
        ("organization", "MISSING_REQUIRED_TYPE")]
    assert narrow.code == 3  # the requirement could not be judged: said, rightly
    assert narrow.document["changes"]["gaps_closed"] == [], "a gap not judged is not fixed"
    assert again.document["changes"]["gaps_opened"] == []
    assert again.code == 0, again.out


def test_trusted_access_unknown_does_not_close_its_gap(monkeypatch, run_scan):
    """Trusted access is disabled (an organization gap). A run where
    ListAWSServiceAccessForOrganization is denied cannot tell (INCOMPLETE: 'trusted access
    unknown'), yet says "-1 gap"; the next run says "+1 gap" and new-gaps exits 1 on an
    unchanged world. Expected: not compared, not closed; the next run compares the gap with
    the last run that knew it (exit 0)."""
    organization = {"management_account": {"id": "111111111111", "name": "management"},
                    "accounts": [{"id": "222222222222", "name": "security"},
                                 {"id": MEMBER, "name": "workloads"}],
                    "trusted_access": False, "delegated_administrator": "222222222222"}
    analyzers = [org(r) for r in REGIONS]
    with env_world(monkeypatch, analyzers=analyzers, organization=organization):
        first = run_scan()
    denied = {"deny_operations": ["organizations:ListAWSServiceAccessForOrganization"]}
    with env_world(monkeypatch, analyzers=analyzers, organization=organization, scanner=denied):
        blind = run_scan()
    with env_world(monkeypatch, analyzers=analyzers, organization=organization):
        again = run_scan("--fail-on", "new-gaps")
    assert "TRUSTED_ACCESS_DISABLED" in [g["code"] for g in first.document["gaps"]]
    assert blind.code == 3
    assert blind.document["changes"]["gaps_closed"] == [], "unknown is not fixed"
    assert again.document["changes"]["gaps_opened"] == []
    assert again.code == 0, again.out


# -- C. Finding age restarts again after a run whose findings were incomplete ------------------

def test_first_seen_survives_a_run_that_read_the_recreated_analyzer_partly(monkeypatch,
                                                                          run_scan, tmp_path):
    """An analyzer re-created (new ids, new createdAt): the first run after it reads its
    findings only partly (a ListFindings fault: INCOMPLETE, not compared) and stores 4 of
    the 6 under their new ids, with no first_seen. The next complete run matches all six to
    the old grants and reports first_seen 2024 -- but the history keeps the row the partial
    run stored (same digest), so the first_seen is never written: one run later, four of the
    six findings are 14 days old again. Expected: every later run keeps 2024-06-01."""
    cfg = config(tmp_path, "paged", "ORGANIZATION", page_size="2",
                 aws="{max_attempts: 1}")
    old = grants(6, "100", public=2, created="2024-06-01T00:00:00Z")
    new = grants(6, "100", public=2, ids="1", created="2026-11-20T00:00:00Z")
    rest = [org("eu-west-1"), org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=[org("us-east-1", old,
                                               created_at="2024-05-01T00:00:00Z"), *rest]):
        run_scan("--config", cfg)
    recreated = [org("us-east-1", new, created_at="2026-11-19T00:00:00Z"), *rest]
    fault = {"us-east-1": {"error_rate": 1.0, "error_operations": ["ListFindings"],
                           "error_after": 5}}
    with env_world(monkeypatch, analyzers=recreated, conditions=fault):
        partial = run_scan("--config", cfg)
    with env_world(monkeypatch, analyzers=recreated):
        complete = run_scan("--config", cfg)
        later = run_scan("--config", cfg)
    assert partial.code == 3 and not partial.region("us-east-1")["complete"]
    assert 0 < len(partial.document["findings"]) < 6
    assert {f.get("first_seen_at") for f in complete.document["findings"]} == {
        "2024-06-01T00:00:00Z"}
    assert {f.get("first_seen_at") for f in later.document["findings"]} == {
        "2024-06-01T00:00:00Z"}
    assert later.document["finding_age"]["oldest_public"]["age_days"] > 800


def test_an_imported_run_keeps_the_first_seen_of_its_grants(monkeypatch, run_scan, tmp_path):
    """The README's import path (`--from-json scan.json --history H`) records a run without
    comparing it, so a run imported after a re-creation stores its findings with no
    first_seen, and every later run dates them from the re-creation. Expected: an import is
    matched against the history like a scan (or at least carries first_seen), so the age
    of a grant does not restart."""
    history = tmp_path / "h.sqlite"
    old = grants(2, "100", public=1, created="2024-06-01T00:00:00Z")
    new = grants(2, "100", public=1, ids="1", created="2026-11-20T00:00:00Z")
    rest = [org("eu-west-1"), org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=[org("us-east-1", old), *rest]):
        run_scan("--history", str(history))
    with env_world(monkeypatch, analyzers=[org("us-east-1", new), *rest]):
        offline = run_scan("--no-history")
        run_scan("--from-json", str(offline.directory / "scan.json"),
                 "--history", str(history))
        later = run_scan("--history", str(history))
    assert later.document["finding_age"]["oldest_public"]["age_days"] > 800, (
        later.document["finding_age"]["oldest_public"])


# -- D. A region "not enabled" on the word of an error code closes its gaps and findings -------

def test_a_region_guessed_not_enabled_is_not_compared_as_fixed(monkeypatch, run_scan):
    """Run 1 lists the regions (account:ListRegions): eu-west-1 is ENABLED and has no
    analyzer (a HIGH gap); us-east-1 has a public finding. In run 2 neither ListRegions nor
    DescribeRegions answers (botocore's list is used, enablement unknown) and both regions
    answer with the invalid-token error (what an enabled opt-in region answers to a v1 STS
    token): the judge calls them NOT_ENABLED, a guess its reason shows
    (UnrecognizedClientException). The history treats that as "nothing could exist here":
    "-1 gap", the public finding "closed", new-gaps and new-public pass. Expected: a region
    the last listing had enabled, now NOT_ENABLED only by an error code, is not compared
    (listed in `unknown` with the reason); nothing closed."""
    world = [org("us-east-1", grants(2, "100", public=1)), org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=world):
        first = run_scan()
    blind = {"deny_operations": ["account:ListRegions", "ec2:DescribeRegions"]}
    rejects = {r: {"reject_credentials": True} for r in ("us-east-1", "eu-west-1")}
    with env_world(monkeypatch, analyzers=world, scanner=blind, conditions=rejects):
        guessed = run_scan("--fail-on", "new-public")
    assert [g["region"] for g in first.document["gaps"]] == ["eu-west-1"]
    assert guessed.region("eu-west-1")["status"] == "NOT_ENABLED"
    assert guessed.region("eu-west-1")["reason"] == "UnrecognizedClientException"
    changes = guessed.document["changes"]
    assert changes["gaps_closed"] == [], "a region that could not be reached is not fixed"
    assert changes["findings_closed"] == []
    assert {"eu-west-1", "us-east-1"} <= set(unknown(guessed))


# -- E. The gate fails on what was not compared, the notification stays silent ----------------

def test_a_gate_failing_on_what_was_not_compared_is_notified(monkeypatch, run_scan):
    """A first coverage-only run, then full runs with --fail-on new-public --notify-sns:
    the public findings were never compared, so the gate counts them as new and exits 1 --
    but every count is 0 and the requirement did not change, so `changed()` publishes
    nothing, and the console line reads "+0 findings (0 public)". Expected: what the gate
    counts (changes.not_compared) is news: published, and said in the line."""
    world = [org("us-east-1", grants(2, "100", public=1)), org("eu-west-1"),
             org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=world):
        run_scan("--coverage-only")
    with env_world(monkeypatch, analyzers=world) as aws:
        sns, sqs = aws.client("sns"), aws.client("sqs")
        topic = sns.create_topic(Name="aa-scan-changes")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        gate = run_scan("--fail-on", "new-public", "--notify-sns", topic)
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
    assert gate.document["changes"]["not_compared"]["public_findings"] == 1
    assert gate.code == 1
    assert len(messages) == 1, "exit 1 on a scheduled run, and nobody is told why"


# -- F. Reordering the additional coverage types is called a requirement change --------------

def test_reordering_additional_coverage_types_is_no_requirement_change(monkeypatch, run_scan,
                                                                       tmp_path):
    """ORGANIZATION is always the primary type (config.py puts it first); the additional
    types are judged one by one, independent of their order. Listing them in another order
    is nevertheless "requirement changed": every region is "not compared", and new-gaps
    exits 1 on an unchanged world with a gap. Expected: the requirement is the primary type
    and the set of additional types; a reorder changes nothing (exit 0)."""
    one = config(tmp_path, "one", "ORGANIZATION", "ORGANIZATION_INTERNAL_ACCESS",
                 "ORGANIZATION_UNUSED_ACCESS")
    two = config(tmp_path, "two", "ORGANIZATION", "ORGANIZATION_UNUSED_ACCESS",
                 "ORGANIZATION_INTERNAL_ACCESS")
    unused = {"type": "ORGANIZATION_UNUSED_ACCESS", "name": "unused", "region": "us-east-1"}
    world = [*(org(r) for r in REGIONS), internal("us-east-1"), unused]
    with env_world(monkeypatch, analyzers=world):
        first = run_scan("--config", one)
        again = run_scan("--config", two, "--fail-on", "new-gaps")
    assert {g["region"] for g in first.document["gaps"]} == {"eu-west-1", "ap-southeast-2"}
    changes = again.document["changes"]
    assert changes["requirement"] is None
    assert changes["unknown"] == []
    assert again.code == 0


# -- G. A run whose baseline a concurrent run pruned says "First recorded run" ----------------

def test_a_baseline_pruned_by_an_overlapping_run_is_never_a_first_run(monkeypatch, run_scan,
                                                                      tmp_path):
    """history.keep: 1. Run A notes the history when it starts (only run X there). While A
    scans, an overlapping run Y records and prunes: X is no longer needed by anyone the
    pruner knows of and goes. A may not use Y (recorded after it started: issue 12), finds
    no earlier run at all, and reports "First recorded run: nothing to compare with yet"
    with `baseline: null` and no history_error -- what the README defines as the first
    run. Expected: never "first recorded run" on a series that had runs when this one
    started: say that its baseline was pruned while it scanned (changes.history_error, in
    every report), or do not prune runs a run in flight noted (e.g. a lease table)."""
    import scanner.history.trail as trail
    import scanner.pipeline as pipeline

    history = tmp_path / "h.sqlite"
    cfg = config(tmp_path, "keep1", "ORGANIZATION", history=f"{{path: {history}, keep: 1}}")
    world = [org("us-east-1", grants(2, "100", public=1)), org("eu-west-1"),
             org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=world):
        baseline = run_scan("--config", cfg)
        overlapping = run_scan("--config", cfg, "--no-history")
        other = json.loads((overlapping.directory / "scan.json").read_text())
        real_scan = pipeline._scan

        def scan_while_another_run_records(*args, **kwargs):
            result = real_scan(*args, **kwargs)
            # The overlapping run records (and prunes) while this one is still scanning.
            trail.record(other, trail.HistorySettings(history, 1, None))
            return result

        monkeypatch.setattr(pipeline, "_scan", scan_while_another_run_records)
        run = run_scan("--config", cfg, "--fail-on", "new-gaps")
    changes = run.document["changes"]
    assert baseline.document["run_id"] != other["run_id"]
    assert changes["baseline"] is not None or changes["history_error"], (
        "a history that held runs when this run started is not a first run")
    assert "First recorded run" not in run.out


def test_a_run_whose_organization_could_not_be_identified_is_never_a_first_run(monkeypatch,
                                                                             run_scan):
    """DescribeOrganization denied (an SCP, a trimmed role, a transient fault): the run is
    complete (the role is known from ListDelegatedAdministrators), its organization id is
    null, so it lands in a series of its own ("", account) and its reports say "First
    recorded run: nothing to compare with yet" although the history holds this account's
    runs. Expected: say why nothing was compared ("the organization could not be
    identified: DescribeOrganization ..."), never "first recorded run"."""
    world = [org("us-east-1", grants(2, "100", public=1)), org("eu-west-1"),
             org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=world):
        first = run_scan()
    blind = {"deny_operations": ["organizations:DescribeOrganization"]}
    with env_world(monkeypatch, analyzers=world, scanner=blind):
        run = run_scan()
    assert first.document["organization"]["id"] is not None
    assert run.document["organization"]["id"] is None
    assert run.document["summary"]["complete"]
    changes = run.document["changes"]
    assert changes["baseline"] is not None or changes["history_error"]
    assert "First recorded run" not in run.out
