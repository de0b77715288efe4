"""What changed, end to end, in the cases a second adversarial review of issue 19's rework
found wrong: scan.json files written before gaps carried their analyzer type, regions whose
enablement or listing is guessed, a finding-status scope, knowledge held by a run the
per-piece walk passes over, a gap that escalates, the accounts examined, finding age, gaps
about where the scan ran, and what the HTML says about the gates. Each test runs two to four
scans of a simulated organization (or a scan and an older scan.json) and fails on the
reviewed commit (6e55ecb); each docstring says what was observed and what is expected.

Self-contained: only the project's simulated-organization fixtures (tests/scanner/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import env_world

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
ADMIN, MEMBER = "222222222222", "333333333333"
INTERNAL = "ORGANIZATION_INTERNAL_ACCESS"
UNUSED = "ORGANIZATION_UNUSED_ACCESS"


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


def internal(region: str, **extra) -> dict:
    return {"type": INTERNAL, "name": "internal", "region": region, **extra}


def config(tmp_path: Path, name: str, *types: str, **more: str) -> str:
    path = tmp_path / f"{name}.yaml"
    lines = [f"coverage_types: [{', '.join(types)}]"] + [f"{k}: {v}" for k, v in more.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def unknown(run) -> dict[str, str]:
    return {u["region"]: u["reason"] for u in run.document["changes"]["unknown"]}


def older_scan(run, tmp_path: Path, name: str = "older") -> str:
    """The run's scan.json as aa-scan wrote it before this round and the one before:
    no gaps[].analyzer_type, no summary.requirements_not_judged, no history blocks; dated
    a month earlier (as a scan made before the history existed, the README's import case)."""
    document = json.loads((run.directory / "scan.json").read_text())
    for gap in document["gaps"]:
        del gap["analyzer_type"]
    del document["summary"]["requirements_not_judged"]
    for key in ("changes", "trend", "finding_age", "run_id"):
        document.pop(key, None)
    document["started_at"], document["finished_at"] = ("2026-11-01T00:00:00Z",
                                                        "2026-11-01T00:01:00Z")
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(document))
    return str(path)


def compare_with_older(run_scan, tmp_path: Path, older: str, how: str, *args: str):
    """A scan compared with an older scan.json: given as --baseline, or imported into the
    history first (`--from-json FILE --history H`, the README's way to import old scans)."""
    if how == "baseline":
        return run_scan(*args, "--baseline", older, "--no-history")
    history = tmp_path / "imported.sqlite"
    assert run_scan("--from-json", older, "--history", str(history)).code in (0, 1, 3)
    return run_scan(*args, "--history", str(history))


# -- 1. scan.json from before gaps said their analyzer type -------------------------------------

@pytest.mark.parametrize("how", ["baseline", "import"])
def test_an_older_scan_never_hides_a_new_primary_gap_behind_an_internal_one(
        monkeypatch, run_scan, tmp_path, how):
    """Requirement [ORGANIZATION, ORGANIZATION_INTERNAL_ACCESS]. The older scan.json (no
    gaps[].analyzer_type) has one gap: the internal-access analyzer in us-east-1 is FAILED
    (NOT_ACTIVE, MEDIUM). Now the internal analyzer is ACTIVE again and the ORGANIZATION
    analyzer in us-east-1 is FAILED (NOT_ACTIVE, HIGH): a new HIGH gap.
    Observed: diff._region_gaps files a gap whose type is not recorded under the primary
    type, so the old internal gap is matched (same scope, region, code) to the new
    ORGANIZATION gap: "+0 gaps, -0 gaps" and --fail-on new-gaps exits 0, with --baseline
    and after importing the file alike.
    Expected: the ORGANIZATION NOT_ACTIVE gap is opened (or, at worst, not compared and
    counted): exit 1. A gap whose type was not recorded cannot be assigned to a type when
    the older run required more than one (not compared, or infer the type from the code and
    title)."""
    wide = config(tmp_path, "wide", "ORGANIZATION", INTERNAL)
    before = [*(org(r) for r in REGIONS), internal("us-east-1", status="FAILED"),
              internal("eu-west-1"), internal("ap-southeast-2")]
    after = [org("us-east-1", status="FAILED"), org("eu-west-1"), org("ap-southeast-2"),
             *(internal(r) for r in REGIONS)]
    with env_world(monkeypatch, analyzers=before):
        first = run_scan("--config", wide, "--no-history")
    older = older_scan(first, tmp_path)
    with env_world(monkeypatch, analyzers=after):
        run = compare_with_older(run_scan, tmp_path, older, how, "--config", wide,
                                 "--fail-on", "new-gaps")
    assert [(g["code"], g["analyzer_type"], g["severity"]) for g in run.document["gaps"]] == [
        ("NOT_ACTIVE", "ORGANIZATION", "HIGH")]
    changes = run.document["changes"]
    assert changes["baseline"] is not None
    assert (changes["counts"]["gaps_opened"] + changes["not_compared"]["gaps"]) >= 1, (
        "a new HIGH gap was matched to an unrelated old internal-access gap")
    assert run.code == 1


@pytest.mark.parametrize("kind", [INTERNAL, UNUSED])
def test_an_older_scan_neither_closes_nor_reopens_an_unchanged_gap(monkeypatch, run_scan,
                                                                   tmp_path, kind):
    """The same world twice, requirement [ORGANIZATION, <kind>], and <kind> missing: a
    MISSING_REQUIRED_TYPE gap in us-east-1 (internal access) or for the organization
    (unused access), in the older scan.json (no analyzer_type) and now.
    Observed: the old gap is filed under the primary type (a regional one) or under "where
    the scan ran" (an organization one), the new one under its type: "+1 gap, -1 gap", the
    report calls the unchanged gap closed, and --fail-on new-gaps exits 1 on an unchanged
    world.
    Expected: nothing opened, nothing closed (exit 0), or the gap listed as not compared;
    never "closed"."""
    wide = config(tmp_path, "wide", "ORGANIZATION", kind)
    world = [*(org(r) for r in REGIONS)]
    if kind == INTERNAL:
        world += [internal("eu-west-1"), internal("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=world):
        first = run_scan("--config", wide, "--no-history")
        older = older_scan(first, tmp_path)
        again = run_scan("--config", wide, "--baseline", older, "--no-history",
                         "--fail-on", "new-gaps")
    assert [g["analyzer_type"] for g in again.document["gaps"]] == [kind]
    changes = again.document["changes"]
    assert changes["gaps_closed"] == [], "an unchanged gap is called closed"
    assert changes["gaps_opened"] == []


def test_an_older_scan_without_requirements_not_judged_is_not_taken_as_judged(
        monkeypatch, run_scan, tmp_path):
    """Requirement [ORGANIZATION, ORGANIZATION_UNUSED_ACCESS], no unused-access analyzer.
    The older scan left ap-southeast-2 out, so it could not judge the requirement (no gap;
    "requirement not judged" in its incomplete_reasons), and, written before
    summary.requirements_not_judged existed, does not say so in that key. runs.run_view
    reads the missing key as () -- "every requirement judged" -- so the next full run
    compares the organization gap with "no gap": "+1 gap", --fail-on new-gaps exits 1 on
    an unchanged world (the store keeps the () of an imported scan too).
    Expected: a document without the key has not_judged None (not recorded), and an
    organization-wide requirement of such a run is not compared."""
    wide = config(tmp_path, "wide", "ORGANIZATION", UNUSED)
    with env_world(monkeypatch, analyzers=[org(r) for r in REGIONS]):
        narrow = run_scan("--config", wide, "--no-history", "--exclude", "ap-southeast-2")
        older = older_scan(narrow, tmp_path)
        full = run_scan("--config", wide, "--baseline", older, "--no-history",
                        "--fail-on", "new-gaps")
    assert narrow.document["summary"]["requirements_not_judged"] == [UNUSED]
    changes = full.document["changes"]
    assert changes["gaps_opened"] == [], "a gap the baseline could not judge is not new"
    assert "organization" in unknown(full)


# -- 2. regions whose listing or enablement is guessed -----------------------------------------

FUTURE = {"universe": [*REGIONS, "new:xx-future-1"]}
BLIND = {"deny_operations": ["account:ListRegions", "ec2:DescribeRegions"]}


@pytest.mark.parametrize("what", ["gap", "public finding"])
def test_a_region_missing_from_botocore_s_list_is_neither_fixed_nor_new(monkeypatch,
                                                                        run_scan, what):
    """xx-future-1 is newer than the installed botocore; account:ListRegions lists it. In
    run 2 neither ListRegions nor DescribeRegions answers, discovery falls back to
    botocore's list, and xx-future-1 is not in scan.json at all. diff._region_state calls
    a region missing from a run "absent: nothing could exist there", whatever the run's
    region list came from.
    Observed (gap: xx-future-1 has no analyzer): run 2 reports "-1 gap" (NO_ANALYZER closed,
    the run complete, exit 0); run 3, the same world listed again, "+1 gap" and
    --fail-on new-gaps exits 1. (Public finding: run 3 calls the finding seen in run 1
    new, --fail-on new-public exits 1.)
    Expected: a region missing from a run whose regions came from botocore's fall-back
    (discovery.source) is not compared ("not listed: region discovery did not answer"),
    nothing closed in run 2, and run 3 compares with run 1: nothing opened or new, exit 0.
    Only a region listing makes a missing region absent."""
    if what == "gap":
        world = [org(r) for r in REGIONS]
        gate = "new-gaps"
    else:
        world = [*(org(r) for r in REGIONS), org("xx-future-1", grants(1, "100", public=1))]
        gate = "new-public"
    with env_world(monkeypatch, regions=FUTURE, analyzers=world):
        first = run_scan()
    with env_world(monkeypatch, regions=FUTURE, analyzers=world, scanner=BLIND):
        blind = run_scan("--fail-on", gate)
    with env_world(monkeypatch, regions=FUTURE, analyzers=world):
        again = run_scan("--fail-on", gate)
    assert blind.document["discovery"]["source"].startswith("botocore")
    assert "xx-future-1" not in {r["region"] for r in blind.document["regions"]}
    if what == "gap":
        assert [g["region"] for g in first.document["gaps"]] == ["xx-future-1"]
        assert blind.document["changes"]["gaps_closed"] == [], "not listed is not fixed"
        assert again.document["changes"]["gaps_opened"] == []
    else:
        assert first.document["summary"]["public_findings"] == 1
        assert again.document["changes"]["findings_new"] == []
    assert again.code == 0, again.out


def test_a_region_enabled_again_does_not_make_its_findings_new(monkeypatch, run_scan):
    """af-south-1 (an opt-in region) is enabled and holds two findings, one public (run 1);
    it is disabled (run 2: the region listing says so; its findings are rightly "not read,
    not closed"); it is enabled again, the same analyzer and the same two findings under the
    same ids (run 3).
    Observed: run 3 compares the region with run 2, where it was "absent", and calls both
    findings new: "+2 findings (1 public)", --fail-on new-public exits 1 on findings that
    existed in run 1 and were never closed.
    Expected: as a region no longer enabled does not close its findings, one enabled again
    does not make them new: its findings are compared with the last run that read them
    (run 1): nothing new, exit 0."""
    universe = [*REGIONS, "af-south-1"]
    enabled = {"universe": universe, "opt_in_status": {"af-south-1": "ENABLED"}}
    disabled = {"universe": universe}
    world = [*(org(r) for r in REGIONS), org("af-south-1", grants(2, "100", public=1))]
    with env_world(monkeypatch, regions=enabled, analyzers=world):
        first = run_scan()
    with env_world(monkeypatch, regions=disabled, analyzers=world):
        off = run_scan()
    with env_world(monkeypatch, regions=enabled, analyzers=world):
        back = run_scan("--fail-on", "new-public")
    assert first.region("af-south-1")["status"] == "COVERED"
    assert off.region("af-south-1")["status"] == "NOT_ENABLED"
    assert off.document["changes"]["findings_closed"] == []
    assert back.document["changes"]["findings_new"] == [], "the same findings, same ids"
    assert back.code == 0, back.out


def test_a_region_guessed_not_enabled_leaves_the_unused_requirement_not_judged(
        monkeypatch, run_scan, tmp_path):
    """Requirement [ORGANIZATION, ORGANIZATION_UNUSED_ACCESS], met by an unused-access
    analyzer in eu-west-1 (run 1: no gap). In run 2 the region listing does not answer and
    eu-west-1 answers with the invalid-token error: NOT_ENABLED only from an error code (a
    guess the history rightly does not compare). The judge's _unread_regions leaves every
    NOT_ENABLED region out, guessed or not, so it judges the requirement conclusively:
    "No active ORGANIZATION_UNUSED_ACCESS analyzer in any region" (a false gap),
    requirements_not_judged is [], and the history compares it: "+1 gap", --fail-on
    new-gaps exits 1 on an unchanged world.
    Expected: a region called NOT_ENABLED only from an error code is unread for an
    organization-wide requirement: not judged (listed in requirements_not_judged, the run
    incomplete), nothing opened."""
    wide = config(tmp_path, "wide", "ORGANIZATION", UNUSED)
    world = [*(org(r) for r in REGIONS),
             {"type": UNUSED, "name": "unused", "region": "eu-west-1"}]
    with env_world(monkeypatch, analyzers=world):
        first = run_scan("--config", wide)
    rejects = {"eu-west-1": {"reject_credentials": True}}
    with env_world(monkeypatch, analyzers=world, scanner=BLIND, conditions=rejects):
        guessed = run_scan("--config", wide, "--fail-on", "new-gaps")
    assert first.document["gaps"] == []
    assert guessed.region("eu-west-1")["reason"] == "UnrecognizedClientException"
    assert guessed.document["changes"]["gaps_opened"] == [], (
        "the analyzer that meets it is in the region that could not be read")
    assert UNUSED in guessed.document["summary"]["requirements_not_judged"]


# -- 3. a finding-status scope -----------------------------------------------------------------

def test_a_run_that_collects_no_active_findings_closes_none(monkeypatch, run_scan, tmp_path):
    """A weekly run collects ACTIVE findings; a monthly one `finding_statuses: [ARCHIVED]`
    (or [RESOLVED], for time to resolve) into the same history. The status filter is not
    recorded, and the archived-only run reads us-east-1 "completely" with no active
    finding.
    Observed: the archived-only run reports the three active findings closed ("3 closed"),
    and the next weekly run reports them new, "+3 findings (1 public)": --fail-on
    new-public exits 1 on an unchanged world.
    Expected: a run that did not collect ACTIVE findings has not read them (as
    coverage-only): not compared, nothing closed; the next run compares with the last run
    that collected them, exit 0."""
    archived = tmp_path / "archived.yaml"
    archived.write_text("finding_statuses: [ARCHIVED]\n")
    world = [org("us-east-1", grants(3, "100", public=1)), org("eu-west-1"),
             org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=world):
        first = run_scan()
        monthly = run_scan("--config", str(archived))
        weekly = run_scan("--fail-on", "new-public")
    assert first.document["summary"]["public_findings"] == 1
    assert monthly.document["changes"]["findings_closed"] == [], "not collected is not closed"
    assert weekly.document["changes"]["findings_new"] == []
    assert weekly.code == 0, weekly.out


# -- 4. knowledge in a run the walk passes over ------------------------------------------------

def test_a_public_finding_fixed_under_an_account_analyzer_and_back_is_new_exposure(
        monkeypatch, run_scan):
    """A public finding on a bucket of the scanning account itself (run 1, read through the
    organization analyzer). Run 2 reads us-east-1 through an ACCOUNT analyzer of that same
    account, which reports public access to its own resources whatever the zone of trust:
    the finding is gone (fixed). Run 3: the organization analyzer is back and so is the
    public finding.
    Observed: run 3's findings are compared with run 1 (the latest run of the same zone of
    trust), where the finding existed: "+0 findings (0 public)", --fail-on new-public exits
    0 on a public exposure re-introduced since the last run that could see it.
    Expected: new public exposure, exit 1 -- a run read through a narrower zone still knows
    the findings both zones report (public access to the analyzer account's own
    resources); passing over it must not pass over them (compare that subset with it, or
    count the public findings it could have seen as not compared)."""
    own = grants(1, "200", public=1, owner=ADMIN)
    rest = [org("eu-west-1"), org("ap-southeast-2")]
    account = {"type": "ACCOUNT", "name": "acct", "region": "us-east-1", "findings": []}
    with env_world(monkeypatch, analyzers=[org("us-east-1", own), *rest]):
        first = run_scan()
    with env_world(monkeypatch, analyzers=[account, *rest]):
        fixed = run_scan()
    with env_world(monkeypatch, analyzers=[org("us-east-1", own), *rest]):
        back = run_scan("--fail-on", "new-public")
    assert first.document["summary"]["public_findings"] == 1
    assert fixed.region("us-east-1")["findings_scope"] == "ACCOUNT"
    assert fixed.document["summary"]["public_findings"] == 0
    assert back.document["summary"]["public_findings"] == 1
    assert back.code == 1, "a public finding gone in run 2 and back in run 3 is new"


def test_a_required_type_seen_active_in_between_then_lost_fails_new_gaps(monkeypatch,
                                                                        run_scan, tmp_path):
    """Requirement [ORGANIZATION, ORGANIZATION_INTERNAL_ACCESS]: us-east-1 has no internal
    analyzer (run 1, a gap). Run 2 requires [ORGANIZATION] only; the internal analyzer now
    exists and is ACTIVE (run 2's scan.json lists it in us-east-1). Before run 3 it is
    deleted again.
    Observed: the history keeps no analyzers, so run 3 compares the internal-access gap with
    run 1 (the latest run that required the type), where it existed: "+0 gaps", --fail-on
    new-gaps exits 0 on an analyzer deleted since the last run that saw it.
    Expected: exit 1 -- a run that listed the region's analyzers knows whether each type
    was met, required or not (record, per region, the types with an ACTIVE analyzer, and
    let the per-type walk stop there)."""
    wide = config(tmp_path, "wide", "ORGANIZATION", INTERNAL)
    narrow = config(tmp_path, "narrow", "ORGANIZATION")
    without = [*(org(r) for r in REGIONS), internal("eu-west-1"), internal("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=without):
        first = run_scan("--config", wide)
    with env_world(monkeypatch, analyzers=[*without, internal("us-east-1")]):
        between = run_scan("--config", narrow)
    with env_world(monkeypatch, analyzers=without):
        lost = run_scan("--config", wide, "--fail-on", "new-gaps")
    assert [g["analyzer_type"] for g in first.document["gaps"]] == [INTERNAL]
    assert INTERNAL in {a["type"] for a in between.region("us-east-1")["analyzers"]
                        if a["status"] == "ACTIVE"}
    assert lost.code == 1, "the internal analyzer seen ACTIVE in run 2 was deleted since"


# -- 5. a gap that escalates under the same identity -------------------------------------------

def test_a_not_active_gap_that_escalates_fails_new_gaps(monkeypatch, run_scan):
    """The organization analyzer in us-east-1 is being created (NOT_ACTIVE, MEDIUM: "may
    only need time"); a week later it is FAILED (NOT_ACTIVE, HIGH: the service-linked role
    could not be created). Same scope, region, code and analyzer type: one identity.
    Observed: "+0 gaps, -0 gaps", --fail-on new-gaps exits 0, no notification: the
    scheduled gate never says the analyzer failed.
    Expected: a gap whose severity rises (or whose status changes) under the same identity
    is reported (a changed gap, as findings have) and counted by new-gaps: exit 1."""
    rest = [org("eu-west-1"), org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=[org("us-east-1", status="CREATING"), *rest]):
        creating = run_scan()
    failed = org("us-east-1", status="FAILED",
                 status_reason="SERVICE_LINKED_ROLE_CREATION_FAILED")
    with env_world(monkeypatch, analyzers=[failed, *rest]):
        run = run_scan("--fail-on", "new-gaps")
    assert [(g["code"], g["severity"]) for g in creating.document["gaps"]] == [
        ("NOT_ACTIVE", "MEDIUM")]
    assert [(g["code"], g["severity"]) for g in run.document["gaps"]] == [
        ("NOT_ACTIVE", "HIGH")]
    assert run.code == 1, "CREATING -> FAILED passed the new-gaps gate"


# -- 6. the accounts examined --------------------------------------------------------------------

def test_admin_role_name_added_or_dropped_neither_opens_nor_closes_gaps(monkeypatch, run_scan):
    """The delegated administrator scans; us-east-1's organization analyzer is an older one
    in the management account. With --admin-role-name (run 1) the region is covered; without
    it (run 2) it is judged on the administrator's own analyzers: NO_ANALYZER; with it again
    (run 3) covered. The world never changes.
    Observed: run 2 "+1 gap" (exit 1 on an unchanged world), run 3 "-1 gap": the report calls
    the gap closed, though nothing was fixed.
    Expected: which administrator accounts were examined is part of a run's scope, as the
    requirement and the zone of trust are: a region judged on other accounts' analyzers
    than the run compared with is "not compared (scope changed: accounts examined)" -- never
    closed (run 3), never opened (run 2; the gate may still count it)."""
    world = [org("us-east-1", account="management", name="older-org"), org("eu-west-1"),
             org("ap-southeast-2")]
    roles = [{"name": "AaScanAdmin", "accounts": ["management", "delegated_administrator"]}]
    with env_world(monkeypatch, analyzers=world, roles=roles):
        both = run_scan("--admin-role-name", "AaScanAdmin")
        own = run_scan()
        both_again = run_scan("--admin-role-name", "AaScanAdmin")
    assert both.document["gaps"] == [] and both_again.document["gaps"] == []
    assert [g["code"] for g in own.document["gaps"]] == ["NO_ANALYZER"]
    assert own.document["changes"]["gaps_opened"] == [], "nothing changed in the world"
    assert both_again.document["changes"]["gaps_closed"] == [], "nothing was fixed"


# -- 7. finding age ------------------------------------------------------------------------------

def test_a_grant_that_was_gone_does_not_inherit_its_old_age(monkeypatch, run_scan):
    """A public bucket since 2024-06-01 (run 1) is fixed (run 2: "1 closed"); on 2026-11-20
    it is made public again, a new finding with a new id (run 3: "+1 finding (1 public)",
    age 15 days). HistoryStore._first_seen gives every new row the earliest createdAt the
    series ever held for its grant, whether or not the grant was there in between.
    Observed: run 4, nothing changed, says the oldest public finding is 917 days old
    (first_seen_at 2024-06-01); run 3 said 15 days, and run 2 said it was closed.
    Expected: a grant keeps its first_seen only across runs that kept seeing it (a
    re-created analyzer, as the comparison matches it), not across a gap in which it was
    closed: run 4 says 15 days, as run 3."""
    rest = [org("eu-west-1"), org("ap-southeast-2")]
    first = grants(1, "100", public=1, created="2024-06-01T00:00:00Z")
    again = grants(1, "100", public=1, ids="1", created="2026-11-20T00:00:00Z")
    with env_world(monkeypatch, analyzers=[org("us-east-1", first), *rest]):
        run_scan()
    with env_world(monkeypatch, analyzers=[org("us-east-1"), *rest]):
        fixed = run_scan()
    with env_world(monkeypatch, analyzers=[org("us-east-1", again), *rest]):
        reintroduced = run_scan()
        later = run_scan()
    assert fixed.document["changes"]["counts"]["findings_closed"] == 1
    assert reintroduced.document["changes"]["counts"]["findings_new_public"] == 1
    new_age = reintroduced.document["finding_age"]["oldest_public"]["age_days"]
    oldest = later.document["finding_age"]["oldest_public"]
    assert oldest["first_seen_at"] is None, oldest
    assert oldest["age_days"] == pytest.approx(new_age, abs=1)


def test_finding_age_does_not_restart_in_a_run_whose_findings_were_not_compared(
        monkeypatch, run_scan, tmp_path):
    """Six public grants since 2024-06-01; the analyzer is re-created (new ids, createdAt
    2026-11-20). Run 2 (complete) carries the age: 917 days, first_seen_at 2024-06-01, and
    the history stores it. Run 3 reads the region only partly (a ListFindings fault):
    INCOMPLETE, its findings rightly not compared.
    Observed: run 3's document takes first_seen_at only from the comparison, so its
    findings have none and finding_age says the oldest public finding is 15 days old.
    Expected: first_seen_at comes from what the history holds for the grant (the store has
    it), compared or not: 917 days in run 3 too."""
    cfg = config(tmp_path, "paged", "ORGANIZATION", page_size="2", aws="{max_attempts: 1}")
    old = grants(6, "100", public=6, created="2024-06-01T00:00:00Z")
    new = grants(6, "100", public=6, ids="1", created="2026-11-20T00:00:00Z")
    rest = [org("eu-west-1"), org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=[org("us-east-1", old), *rest]):
        run_scan("--config", cfg)
    recreated = [org("us-east-1", new), *rest]
    with env_world(monkeypatch, analyzers=recreated):
        complete = run_scan("--config", cfg)
    fault = {"us-east-1": {"error_rate": 1.0, "error_operations": ["ListFindings"],
                           "error_after": 5}}
    with env_world(monkeypatch, analyzers=recreated, conditions=fault):
        partial = run_scan("--config", cfg)
    assert complete.document["finding_age"]["oldest_public"]["age_days"] > 800
    assert partial.code == 3 and 0 < len(partial.document["findings"]) < 6
    oldest = partial.document["finding_age"]["oldest_public"]
    assert oldest["first_seen_at"] == "2024-06-01T00:00:00Z", oldest
    assert oldest["age_days"] > 800


# -- 8. gaps about where the scan ran ------------------------------------------------------------

@pytest.mark.parametrize("narrower", ["exclude", "baseline of the management account"])
def test_a_gap_about_where_the_scan_ran_is_not_closed_by_another_scope(monkeypatch, run_scan,
                                                                       narrower):
    """Scanning from the management account (a delegated administrator exists, no
    --admin-role-name): eu-west-1 and ap-southeast-2 are not assessed, and the organization
    gap SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR names them. It exists only
    while it holds a region back, and "where" gaps are compared with the baseline whatever
    either run's scope.
    Observed: (exclude) the next run leaves those two regions out: "-1 gap", the report
    calls the gap closed; (baseline) a run of the delegated administrator given the
    management account's scan.json as --baseline (accepted: same organization) says "-1
    gap" too. Nothing was fixed.
    Expected: a gap about where the scan ran is compared only with a run of the same
    scanning account and region scope (else not compared); never closed by leaving out
    what it was about."""
    world = [org("us-east-1", account="management", name="m"), org("eu-west-1"),
             org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=world, scanner={"account": "management"}):
        first = run_scan(*(() if narrower == "exclude" else ("--no-history",)))
        if narrower == "exclude":
            run = run_scan("--exclude", "eu-west-1,ap-southeast-2")
    if narrower != "exclude":
        with env_world(monkeypatch, analyzers=world):
            run = run_scan("--baseline", str(first.directory / "scan.json"), "--no-history")
    assert [g["code"] for g in first.document["gaps"]] == [
        "SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR"]
    assert run.document["changes"]["gaps_closed"] == [], "nothing was fixed"


# -- 9. what the HTML says about the gates -------------------------------------------------------

def test_the_html_says_what_the_new_public_gate_counted(monkeypatch, run_scan):
    """A coverage-only run, then a full run with --fail-on new-public: the public finding
    was never compared, the gate counts it as new and exits 1 (rightly), and the terminal
    line and the SNS body say "1 public finding not compared (the new-* gates count them as
    new)".
    Observed: report.html's "Since" panel says "+0 new findings (0 public)" and "Not
    compared: ... Nothing there is called new or closed." -- nothing explains the exit 1
    (changes.not_compared is not rendered; the workbook's Changes sheet neither).
    Expected: the HTML (and the Changes sheet) say what the gates counted as new because it
    was not compared, as the terminal line does."""
    world = [org("us-east-1", grants(2, "100", public=1)), org("eu-west-1"),
             org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=world):
        run_scan("--coverage-only")
        gate = run_scan("--fail-on", "new-public", formats="json,html")
    assert gate.document["changes"]["not_compared"]["public_findings"] == 1
    assert gate.code == 1
    assert "count them as new" in gate.out
    html = (gate.directory / "report.html").read_text()
    panel = html[html.index('id="changes"'):html.index('id="changes"') + 5000]
    assert "count" in panel and "1 public finding" in panel, (
        "the HTML never says why a scheduled run exited 1")
