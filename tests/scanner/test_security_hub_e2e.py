"""--security-hub against the simulated organization (moto's Security Hub, behind the
simulator's rules: enabled or not, 100 findings a call, the caller's own default product):
gaps imported FAILED into the caller's account, a re-run updating them, a closed gap PASSED,
a gap where the scan did not look left as it was, and a failed import exiting 2 after the
reports and the upload."""

from __future__ import annotations

from typing import Any

from scanner.securityhub import GENERATOR

from .conftest import env_world

ACCOUNT = "222222222222"
PRODUCT = f"arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default"
# us-east-1 covered; eu-west-1 and ap-southeast-2 without an organization analyzer (gaps).
ANALYZERS = [{"type": "ORGANIZATION", "name": "org", "region": "us-east-1"}]


def hub_findings(world: Any) -> dict[str, dict[str, Any]]:
    """Every finding in the scanning account's Security Hub in us-east-1, by id."""
    client = world.client("securityhub")
    found: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("get_findings").paginate():
        found.update({f["Id"]: f for f in page["Findings"]})
    return found


def test_gaps_go_to_the_callers_account_under_its_default_product(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        world.client("securityhub").enable_security_hub()
        run = run_scan("--security-hub")
        found = hub_findings(world)
    assert run.code == 1, run.err
    organization = run.document["organization"]["id"]
    gap = found[f"aa-scan/{organization}/region/eu-west-1/NO_ANALYZER/ORGANIZATION"]
    assert set(found) == {f"aa-scan/{organization}/region/{r}/NO_ANALYZER/ORGANIZATION"
                          for r in ("eu-west-1", "ap-southeast-2")}
    # The caller's own account, its default product, the home region's Security Hub.
    assert gap["AwsAccountId"] == ACCOUNT and gap["ProductArn"] == PRODUCT
    assert gap["GeneratorId"] == GENERATOR
    assert gap["Compliance"]["Status"] == "FAILED"
    assert {"AWS Security Hub/IAM.28", "CIS AWS Foundations Benchmark v3.0.0/1.20",
            "CIS AWS Foundations Benchmark v5.0.0/1.19"} <= set(
        gap["Compliance"]["RelatedRequirements"])
    assert gap["Resources"] == [{"Type": "AwsAccount", "Id": f"AWS::::Account:{ACCOUNT}",
                                 "Partition": "aws", "Region": "eu-west-1"}]
    assert gap["Remediation"]["Recommendation"]["Text"].startswith(
        "aws accessanalyzer create-analyzer")
    assert gap["Severity"]["Label"] == "HIGH" and "eu-west-1" in gap["Title"]
    assert (f"Security Hub: 2 gap(s) imported as FAILED, 0 closed as PASSED, into account "
            f"{ACCOUNT} in us-east-1 ({PRODUCT}, 1 call(s))") in run.out


def test_a_re_run_updates_and_a_closed_gap_is_passed_where_the_scan_looked_again(
        monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        world.client("securityhub").enable_security_hub()
        first = run_scan("--security-hub")
        before = hub_findings(world)
        # eu-west-1 gets its organization analyzer; ap-southeast-2 is left out of the next
        # scan (it may still have its gap: not seen is not fixed).
        world.client("accessanalyzer", "eu-west-1").create_analyzer(
            analyzerName="org", type="ORGANIZATION")
        second = run_scan("--security-hub", "--exclude", "ap-southeast-2")
        after = hub_findings(world)
    assert (first.code, second.code) == (1, 0), second.err
    organization = first.document["organization"]["id"]
    closed = f"aa-scan/{organization}/region/eu-west-1/NO_ANALYZER/ORGANIZATION"
    unseen = f"aa-scan/{organization}/region/ap-southeast-2/NO_ANALYZER/ORGANIZATION"
    assert set(after) == set(before)  # updated, never duplicated
    assert after[closed]["Compliance"]["Status"] == "PASSED"
    assert after[closed]["Severity"]["Label"] == "INFORMATIONAL"
    assert after[closed]["CreatedAt"] == before[closed]["CreatedAt"]
    assert after[closed]["Compliance"]["RelatedRequirements"] == \
        before[closed]["Compliance"]["RelatedRequirements"]
    assert after[closed]["ProductFields"]["aa-scan/run_id"] == second.document["run_id"]
    assert after[unseen] == before[unseen]
    assert "0 gap(s) imported as FAILED, 1 closed as PASSED" in second.out


def test_imports_are_batched_at_100_and_only_this_organization_is_closed(monkeypatch,
                                                                        run_scan):
    """150 findings an earlier import left FAILED in us-east-1 (covered now): closed in two
    calls of at most 100 (the simulator refuses more, as Security Hub does); another
    organization's and another generator's findings are not touched."""
    with env_world(monkeypatch, analyzers=[{"type": "ORGANIZATION", "name": "org",
                                            "regions": "enabled"}]) as world:
        hub = world.client("securityhub")
        hub.enable_security_hub()
        organization = world.client("organizations").describe_organization()[
            "Organization"]["Id"]

        def earlier(number: int, prefix: str, generator: str = GENERATOR) -> dict[str, Any]:
            return {"SchemaVersion": "2018-10-08",
                    "Id": f"{prefix}/region/us-east-1/OLD_{number}/any",
                    "ProductArn": PRODUCT, "GeneratorId": generator, "AwsAccountId": ACCOUNT,
                    "Types": ["Software and Configuration Checks"],
                    "CreatedAt": "2026-01-01T00:00:00Z", "UpdatedAt": "2026-01-01T00:00:00Z",
                    "Severity": {"Label": "HIGH"}, "Title": "old", "Description": "old",
                    "Resources": [{"Type": "AwsAccount", "Id": f"AWS::::Account:{ACCOUNT}",
                                   "Region": "us-east-1"}],
                    "Compliance": {"Status": "FAILED"},
                    "ProductFields": {"aa-scan/region": "us-east-1",
                                      "aa-scan/code": f"OLD_{number}"}}

        ours = [earlier(n, f"aa-scan/{organization}") for n in range(150)]
        others = [earlier(0, "aa-scan/o-someoneelse"), earlier(999, f"aa-scan/{organization}",
                                                                 "another-tool")]
        for start in range(0, 152, 100):
            hub.batch_import_findings(Findings=[*ours, *others][start:start + 100])
        world.stats.reset()
        run = run_scan("--security-hub")
        calls = world.stats.snapshot()["operations"]
        after = hub_findings(world)
    assert run.code == 0, run.err
    assert calls["securityhub:BatchImportFindings"] == 2
    assert "0 gap(s) imported as FAILED, 150 closed as PASSED" in run.out
    assert {after[f["Id"]]["Compliance"]["Status"] for f in ours} == {"PASSED"}
    assert [after[f["Id"]]["Compliance"]["Status"] for f in others] == ["FAILED", "FAILED"]


def test_a_failed_import_exits_2_in_one_line_after_the_reports_and_the_upload(monkeypatch,
                                                                            run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:  # Security Hub not enabled
        world.client("s3").create_bucket(Bucket="aa-scan-packs")
        run = run_scan("--security-hub", "--upload", "s3://aa-scan-packs/")
        uploaded = world.client("s3").list_objects_v2(Bucket="aa-scan-packs")["KeyCount"]
    assert run.code == 2
    errors = [line for line in run.err.splitlines() if line.startswith("ERROR")]
    assert errors == [f"ERROR --security-hub: BatchImportFindings in us-east-1 failed after 0 "
                      f"of 2 finding(s): InvalidAccessException: Account {ACCOUNT} is not "
                      "subscribed to AWS Security Hub"]
    assert (run.directory / "scan.json").is_file() and uploaded == 2


def test_security_hub_calls_only_what_its_optional_statement_grants(monkeypatch, run_scan):
    from .test_read_only import OPTIONAL, policy_actions

    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        world.client("securityhub").enable_security_hub()
        world.stats.reset()
        run = run_scan("--security-hub")
        called = set(world.stats.snapshot()["operations"])
    assert run.code == 1
    assert called - policy_actions() == OPTIONAL["--security-hub"][1]


def test_a_re_render_imports_nothing(monkeypatch, run_scan):
    """A re-render observed nothing new: like the notification, it tells Security Hub
    nothing."""
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        world.client("securityhub").enable_security_hub()
        scan = run_scan("--no-history")
        world.stats.reset()
        render = run_scan("--from-json", str(scan.directory / "scan.json"), "--security-hub")
        called = world.stats.snapshot()["operations"]
    assert render.code == 1 and not [op for op in called if op.startswith("securityhub")]
    assert "Security Hub:" not in render.out
