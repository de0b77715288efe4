"""A second adversarial review of issue 24 (OCSF, JUnit, Security Hub, the history in S3,
deploy/), after the fixes of tests/scanner/test_integrations_review.py.

Each test is one problem, with what was observed and what is expected in its docstring; each
fails on the commit reviewed (1250048). Self-contained: only the project's simulated
organization (tests/scanner/conftest.py), its test builders and its own modules.
"""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .conftest import env_world
from .test_integrations_review import _proxy_s3

ACCOUNT = "222222222222"
BUCKET, KEY = "aa-scan-history", "audit/history.sqlite"
URI = f"s3://{BUCKET}/{KEY}"
EVERYWHERE = [{"type": "ORGANIZATION", "name": "org", "regions": "enabled"}]


def _runs_in(world: Any, tmp_path: Path) -> list[str]:
    copy = tmp_path / "downloaded.sqlite"
    copy.write_bytes(world.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read())
    with sqlite3.connect(copy) as database:
        return [row[0] for row in database.execute("SELECT run_id FROM runs ORDER BY seq")]


# -- the history in S3 --------------------------------------------------------------------------


def test_s3_history_deleted_while_a_run_scans_is_restarted_over_the_delete_marker(
        monkeypatch, run_scan, tmp_path):
    """The bucket is versioned (deploy/template.yaml's is). Run 1 writes the history. Run 2
    reads it (ETag E) and scans; meanwhile its owner deletes the history (a delete marker;
    every version is still there). Run 2 writes back with If-Match E: S3 answers 404
    NoSuchKey, which history_s3 counts among the "conflicts" (_CONFLICTS).

    Observed: publish() fetches again, and fetch() returns a LocalCopy with `deleted` set
    (the delete marker was recognised), but publish() ignores it: it records the run into
    the empty local file and writes it with If-None-Match: a new one-run history now sits
    on top of the delete marker, exit 0 -- exactly what the README says never happens ("the
    run says the history is unavailable ... and records nothing, rather than starting a new
    history over the deleted one"); the next run compares with this one-run history.
    Expected: a re-fetch that finds the history deleted stops the retries: nothing is
    written, and the run exits 2 with one line saying the history was deleted."""
    box: list[Any] = []
    puts = {"n": 0}

    def on_put(params: dict[str, Any]) -> None:
        if params.get("Key") == KEY:
            puts["n"] += 1
            if puts["n"] == 2:  # run 2's write: the owner deleted the history meanwhile
                box[0].client("s3").delete_object(Bucket=BUCKET, Key=KEY)

    _proxy_s3(monkeypatch, on_put=on_put)
    with env_world(monkeypatch, analyzers=EVERYWHERE) as world:
        box.append(world)
        s3 = world.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        first = run_scan("--history", URI)
        second = run_scan("--history", URI)
        listed = s3.list_object_versions(Bucket=BUCKET, Prefix=KEY)
        latest = [v for v in listed.get("Versions", []) if v["IsLatest"]]
        runs_now = _runs_in(world, tmp_path) if latest else []
    assert first.code == 0
    assert listed.get("DeleteMarkers"), "the owner's delete marker"
    assert not latest, (
        f"a new history was written over the delete marker (exit {second.code}); it holds "
        f"the runs {runs_now}, not run 1 {first.document['run_id']}")
    assert second.code == 2



def test_s3_history_encrypted_with_upload_kms_key_cannot_be_read_back_under_the_policy(
        monkeypatch, run_scan):
    """--history s3://... --upload s3://... --upload-kms-key alias/aa-scan-evidence (README: "SSE-S3
    (SSE-KMS with --upload-kms-key)"): the history object is written SSE-KMS with that key.
    Reading an SSE-KMS object back (every later run's GetObject) needs kms:Decrypt on the
    key; writing it needs kms:GenerateDataKey.

    Observed: config/iam-policy.json -- the policy the README tells users to deploy, and
    the scheduled deployment's role -- grants kms:GenerateDataKey
    (AaScanOptionalUploadEvidenceSseKms) and kms:DescribeKey, never kms:Decrypt: the first
    run writes the history, and every later run stops before the scan with "--history ...:
    cannot read it ... AccessDenied" (exit 2), for good -- the history it wrote can never
    be read by the role that wrote it. (The simulator does not enforce KMS permissions
    behind S3, so the test checks the object's encryption and the policy's grants.)
    Expected: the policy grants kms:Decrypt (via S3, on aa-scan-* keys, like
    GenerateDataKey) with the history, or the history is never written with a key the
    role cannot decrypt."""
    with env_world(monkeypatch, analyzers=EVERYWHERE) as world:
        world.client("s3").create_bucket(Bucket=BUCKET)
        world.client("s3").create_bucket(Bucket="aa-scan-packs")
        kms = world.client("kms")
        key = kms.create_key()["KeyMetadata"]
        kms.create_alias(AliasName="alias/aa-scan-evidence", TargetKeyId=key["KeyId"])
        first = run_scan("--history", URI, "--upload", "s3://aa-scan-packs/",
                         "--upload-kms-key", "alias/aa-scan-evidence")
        head = world.client("s3").head_object(Bucket=BUCKET, Key=KEY)
    assert first.code == 0, first.err
    assert head["ServerSideEncryption"] == "aws:kms"
    policy = json.loads((Path(__file__).resolve().parents[2] / "config" /
                         "iam-policy.json").read_text())
    decrypt = [s["Sid"] for s in policy["Statement"]
               if {"kms:Decrypt", "kms:*"} & set(s["Action"])]
    assert decrypt, ("the history is SSE-KMS, and no statement of config/iam-policy.json "
                     "grants kms:Decrypt: the next run cannot read it")

# -- OCSF -------------------------------------------------------------------------------------


def _grants(n: int) -> list[dict[str, Any]]:
    return [{"id": f"00000000-0000-4000-8000-00000000000{i}",
             "resource": f"arn:aws:s3:::bucket-{i}", "owner": "333333333333",
             "resource_type": "AWS::S3::Bucket", "public": i == 0,
             "principal": {"AWS": "*" if i == 0 else "arn:aws:iam::999999999999:root"},
             "action": ["s3:GetObject"], "created_at": "2026-10-01T00:00:00Z"}
            for i in range(n)]


def _siem(*runs: Any) -> dict[str, dict[str, Any]]:
    """What a SIEM deduplicating on finding_info.uid holds after ingesting the runs' OCSF
    files in order: the latest event of each uid."""
    held: dict[str, dict[str, Any]] = {}
    for run in runs:
        for event in json.loads((run.directory / "findings.ocsf.json").read_text()):
            held[event["finding_info"]["uid"]] = event
    return held


def test_ocsf_a_finding_that_goes_away_is_left_open_in_the_siem_forever(monkeypatch, run_scan):
    """Run 1: us-east-1's organization analyzer reports two grants; the public one is a
    Detection Finding, status New. Before run 2 the bucket policy is fixed: Access Analyzer
    resolves the finding (status RESOLVED), and aa-scan (which collects the active findings
    by default) no longer has it. The history says so: changes.findings_closed names it.

    Observed: run 2's findings.ocsf.json has no event at all for that uid (ocsf_events
    iterates document["findings"] only), so a SIEM deduplicating on finding_info.uid holds
    the public bucket open ("New", severity High) forever; nothing will ever update or close
    it, although aa-scan itself reports it closed.
    Expected: each finding of the baseline the run no longer reports (changes.findings_closed)
    is emitted as a Detection Finding with activity Close / status Resolved under the same
    uid, so every finding that goes away is closed in the SIEM."""
    analyzers = [{"type": "ORGANIZATION", "name": "org", "region": "us-east-1",
                  "findings": _grants(2)},
                 {"type": "ORGANIZATION", "name": "org", "region": "eu-west-1"},
                 {"type": "ORGANIZATION", "name": "org", "region": "ap-southeast-2"}]
    with env_world(monkeypatch, analyzers=analyzers) as world:
        first = run_scan(formats="json,ocsf")
        for analyzer in world.access_analyzer.analyzers():
            for finding in analyzer.findings:
                if finding.get("resource") == "arn:aws:s3:::bucket-0":
                    finding["status"] = "RESOLVED"
            analyzer.version += 1  # the simulator's query cache: the analyzer changed
        second = run_scan(formats="json,ocsf")
    closed = second.document["changes"]["findings_closed"]
    assert [c["resource"] for c in closed] == ["arn:aws:s3:::bucket-0"], closed
    held = _siem(first, second)
    still_open = sorted(e["message"] for e in held.values()
                        if e["class_uid"] == 2004 and e["status"] == "New")
    assert still_open == [
        "S3 bucket arn:aws:s3:::bucket-1 is shared outside the zone of trust with AWS: "
        "arn:aws:iam::999999999999:root"], f"open in the SIEM after run 2: {still_open}"


def test_ocsf_a_failed_region_that_is_then_disabled_stays_failed_in_the_siem_forever(
        monkeypatch, run_scan):
    """Run 1: af-south-1 is enabled and has no organization analyzer: four Compliance
    Findings (one per control) with compliance status Fail, finding status New. Before run 2
    the account disables af-south-1 (account:ListRegions says DISABLED: known, not guessed
    from an error). Security Hub closes that gap as PASSED (`_looked_again` counts a known
    NOT_ENABLED as looked at again), and the history closes it (gaps_closed).

    Observed: a region not enabled is "no evaluation" in OCSF (ocsf_events skips SKIPPED),
    so run 2 says nothing about the four uids aa-scan/<org>/region/<account>/af-south-1/*:
    a SIEM deduplicating on finding_info.uid keeps four Fail findings open for a region
    that no longer exists, forever (the same for a region later excluded with its reason,
    and for the cells of a member account that left the organization).
    Expected: an evaluation that was reported before and is no evaluation now is closed
    under the same uid (status Resolved, or compliance status Pass/"not applicable" with
    the reason), as Security Hub's PASSED and the history's gaps_closed already say."""
    analyzers = [{"type": "ORGANIZATION", "name": "org", "region": r}
                 for r in ("us-east-1", "eu-west-1", "ap-southeast-2")]
    regions = {"universe": ["us-east-1", "eu-west-1", "ap-southeast-2", "af-south-1"],
               "opt_in_status": {"af-south-1": "ENABLED"}}
    with env_world(monkeypatch, analyzers=analyzers, regions=regions) as world:
        first = run_scan(formats="json,ocsf")
        world.scenario.regions["af-south-1"] = "DISABLED"
        second = run_scan(formats="json,ocsf")
    assert first.region("af-south-1")["status"] == "GAP"
    assert second.region("af-south-1")["status"] == "NOT_ENABLED"
    assert [g["region"] for g in second.document["changes"]["gaps_closed"]] == ["af-south-1"]
    held = _siem(first, second)
    failing = sorted(uid for uid, e in held.items()
                     if e["class_uid"] == 2003 and e["compliance"]["status_id"] == 3)
    assert failing == [], f"Fail in the SIEM after af-south-1 was disabled: {failing}"



def test_ocsf_the_member_view_not_assessed_finding_stays_open_after_the_view_recovers(
        monkeypatch, run_scan):
    """The first review's fix (test_junit_a_member_view_that_could_not_list_the_accounts...)
    made a member view that cannot list the accounts one OCSF Compliance Finding per
    control, uid aa-scan/<org>/member/view/<control>, status New, compliance Unknown.
    Run 1: organizations:ListAccounts denied. Run 2: allowed again; the member view runs
    and every account is assessed.

    Observed: run 2 emits nothing under aa-scan/<org>/member/view/*: the four "Not assessed:
    ... cannot list the accounts" findings stay open (New) in a SIEM deduplicating on
    finding_info.uid forever, beside the member cells that now answer.
    Expected: once the view runs, the member/view evaluation is emitted again, resolved
    (status Resolved), or the uid scheme lets the SIEM close it."""
    analyzers = [{"type": "ORGANIZATION", "name": "org", "regions": "enabled"}]
    with env_world(monkeypatch, analyzers=analyzers) as world:
        real = world._denied_operations
        monkeypatch.setattr(world, "_denied_operations",
                            lambda: real() | {"organizations:ListAccounts"})
        first = run_scan("--member-accounts", "all", "--member-role-name", "aa-scan-member",
                         formats="json,ocsf")
        monkeypatch.setattr(world, "_denied_operations", real)
        second = run_scan("--member-accounts", "all", "--member-role-name", "aa-scan-member",
                          formats="json,ocsf")
    assert first.document["member_view"]["error"]
    assert second.document["member_view"].get("error") is None
    assert second.document["member_view"]["accounts"]
    held = _siem(first, second)
    stale = sorted(uid for uid, e in held.items()
                   if "/member/view" in uid and e["status"] == "New")
    assert stale == [], f"open in the SIEM after the member view ran: {stale}"


def test_ocsf_a_run_whose_organization_id_did_not_answer_leaves_orphan_uids_open(
        monkeypatch, run_scan):
    """The first review found that a run whose organizations:DescribeOrganization did not
    answer keys its uids on "account-222222222222" instead of the organization id; the fix
    (scope_known) stopped only the Security Hub import. OCSF still re-keys.
    Run 1: DescribeOrganization denied (a throttle, a denial), the scan still knows it is
    the DELEGATED_ADMINISTRATOR of an organization; us-east-1 holds a public grant and
    eu-west-1 has no analyzer. Run 2: DescribeOrganization answers; nothing else changed.

    Observed: run 1's events are all under aa-scan/account-222222222222/...: the public
    grant's Detection Finding and eu-west-1's four Fail evaluations. Run 2 emits the same
    things under aa-scan/o-.../..., so a SIEM deduplicating on finding_info.uid holds two
    open copies of each, and the account-namespace copies are never updated or closed by
    any later run (every later run knows the organization id).
    Expected: one rule with Security Hub: a run whose organization id is unknown (while in
    an organization) does not invent a uid namespace (no OCSF events keyed on it, or the
    events keyed on the organization the history last knew), so no uid is orphaned."""
    grants = _grants(1)
    analyzers = [{"type": "ORGANIZATION", "name": "org", "region": "us-east-1",
                  "findings": grants},
                 {"type": "ORGANIZATION", "name": "org", "region": "ap-southeast-2"}]
    with env_world(monkeypatch, analyzers=analyzers) as world:
        real = world._denied_operations
        monkeypatch.setattr(world, "_denied_operations",
                            lambda: real() | {"organizations:DescribeOrganization"})
        first = run_scan(formats="json,ocsf")
        monkeypatch.setattr(world, "_denied_operations", real)
        second = run_scan(formats="json,ocsf")
    assert first.document["organization"]["id"] is None
    assert first.document["organization"]["scanning_account_role"] == "DELEGATED_ADMINISTRATOR"
    assert second.document["organization"]["id"]
    held = _siem(first, second)
    orphans = sorted(uid for uid, e in held.items()
                     if uid.startswith("aa-scan/account-") and e["status"] == "New")
    assert orphans == [], (
        f"{len(orphans)} uid(s) left open under the account namespace after the "
        f"organization answered again: {orphans[:3]}")

# -- Security Hub ------------------------------------------------------------------------------


def _hub(world: Any) -> dict[str, dict[str, Any]]:
    client = world.client("securityhub")
    found: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("get_findings").paginate():
        found.update({f["Id"]: f for f in page["Findings"]})
    return found


def test_security_hub_passes_gaps_of_a_type_the_run_did_not_require(
        monkeypatch, run_scan, tmp_path):
    """Run 1 requires an internal access analyzer too (coverage_types: [ORGANIZATION,
    ORGANIZATION_INTERNAL_ACCESS]) and the organization has none: one FAILED finding per
    region, ...region/<r>/<code>/ORGANIZATION_INTERNAL_ACCESS. Run 2 runs with the default
    configuration (an ad-hoc run, or a configuration reverted), which does not require that
    type; nothing was created in AWS.

    Observed: `_looked_again` asks only whether the region was assessed, so every one of
    those findings is imported as PASSED ("Closed: no longer found by aa-scan run ...,
    which assessed it again") although run 2 never looked for an internal access analyzer;
    the history, for the same two runs, closes nothing (gaps_closed []: "requirement
    changed (ORGANIZATION+ORGANIZATION_INTERNAL_ACCESS -> ORGANIZATION)"; a gap is compared
    only with a run that required its type, scanner/history/baselines.py `_gaps_state`).
    Expected: a gap about an analyzer type is looked at again only by a run that required
    that type (or saw it ACTIVE) from the same accounts, as the history decides; otherwise
    its FAILED finding is left as it was."""
    analyzers = [{"type": "ORGANIZATION", "name": "org", "regions": "enabled"}]
    config = tmp_path / "internal.yaml"
    config.write_text("coverage_types: [ORGANIZATION, ORGANIZATION_INTERNAL_ACCESS]\n")
    with env_world(monkeypatch, analyzers=analyzers) as world:
        world.client("securityhub").enable_security_hub()
        first = run_scan("--security-hub", "--config", str(config))
        imported = {i for i, f in _hub(world).items() if f["Compliance"]["Status"] == "FAILED"}
        second = run_scan("--security-hub")
        after = _hub(world)
    assert first.code in (1, 0) and imported, first.err
    assert all(i.endswith("/ORGANIZATION_INTERNAL_ACCESS") for i in imported), imported
    changes = second.document["changes"]
    assert changes["gaps_closed"] == [] and changes["requirement"]["after"] == ["ORGANIZATION"]
    passed = sorted(i for i in imported if after[i]["Compliance"]["Status"] == "PASSED")
    assert passed == [], (
        f"closed as PASSED by a run that did not require the type: {passed} "
        f"({second.out.splitlines()[-1]}); the history closed {changes['gaps_closed']}")


# -- JUnit ------------------------------------------------------------------------------------


def test_junit_a_scan_that_read_no_finding_is_an_all_green_suite(monkeypatch, run_scan):
    """Every region has an ACTIVE organization analyzer holding three findings, and the
    scanning role may not list findings (access-analyzer:ListFindings, ListFindingsV2 and
    GetFindingsStatistics denied: an SCP, a narrowed policy). The scan knows it: verdict
    INCOMPLETE, complete false, "findings incomplete in ap-southeast-2, eu-west-1,
    us-east-1", exit 3.

    Observed: junit.xml says tests="9" failures="0" errors="0" skipped="1": every region and
    organization check passes, and nothing anywhere in the file says that not one finding
    could be read (evaluations() sees only region statuses; summary.incomplete_reasons is
    never read). A CI that reads junit.xml (the point of the format: shown without a plugin,
    and often with the step's exit code ignored so the report is published) shows a green
    build for a scan that saw none of the organization's findings.
    Expected: what made the scan incomplete is in junit.xml as an error (a test case per
    region whose findings could not be read, or one "scan complete" case in error with
    summary.incomplete_reasons), so junit.xml is never all-pass when scan.json says
    complete: false."""
    analyzers = [{"type": "ORGANIZATION", "name": "org", "regions": "enabled",
                  "findings": [{"generate": {"count": 3}}]}]
    denied = {"deny_operations": ["access-analyzer:ListFindings",
                                  "access-analyzer:ListFindingsV2",
                                  "access-analyzer:GetFindingsStatistics"]}
    with env_world(monkeypatch, analyzers=analyzers, scanner=denied):
        run = run_scan(formats="json,junit")
    summary = run.document["summary"]
    assert run.code == 3 and summary["complete"] is False, summary["incomplete_reasons"]
    root = ET.parse(run.directory / "junit.xml").getroot()
    totals = {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")}
    assert root.get("errors") != "0" or root.get("failures") != "0", (
        f"junit.xml is all green ({totals}) for an incomplete scan: "
        f"{summary['incomplete_reasons']}")


# -- deploy/ ------------------------------------------------------------------------------------


def test_deploy_the_failed_run_alarm_cannot_publish_to_its_topic():
    """deploy/template.yaml: FailedRunAlarm's only action is ChangesTopic, and ChangesTopic
    is encrypted with the AWS managed key (KmsMasterKeyId: alias/aws/sns).

    Observed: the key policy of alias/aws/sns (which no one can edit) does not let
    CloudWatch call kms:GenerateDataKey / kms:Decrypt, so a CloudWatch alarm cannot publish
    to a topic encrypted with it: the alarm goes to ALARM and its action fails ("CloudWatch
    Alarms does not have authorization to access the SNS topic encryption key", AWS
    re:Post knowledge center "cloudwatch-configure-alarm-sns"). A run that could not scan
    (exit 2 or 4, a timeout at 15 minutes) -- the one event the alarm is there for -- is
    mailed to no one; the README promises "exit 2 or 4 ... is a function error, which the
    stack's alarm mails through the topic".
    Expected: the topic the alarm notifies is unencrypted or encrypted with a
    customer managed key whose policy allows cloudwatch.amazonaws.com kms:GenerateDataKey*
    and kms:Decrypt (aws:SourceArn the alarm)."""
    from deploy.build_lambda import load_template

    resources = load_template()["Resources"]
    actions = resources["FailedRunAlarm"]["Properties"]["AlarmActions"]
    topics = [resources[a["Ref"]] for a in actions if isinstance(a, dict) and "Ref" in a]
    assert topics, actions
    unusable = [t["Properties"].get("KmsMasterKeyId") for t in topics
                if t["Properties"].get("KmsMasterKeyId") == "alias/aws/sns"]
    assert unusable == [], (
        f"the alarm notifies a topic encrypted with {unusable[0]}, which CloudWatch alarms "
        "cannot publish to")


def test_deploy_a_scheduled_run_that_is_incomplete_every_week_tells_no_one(
        monkeypatch, tmp_path):
    """The deployed function (deploy/lambda_handler.py, invoked as Lambda invokes it) in an
    organization where the scanner role cannot read any finding (an SCP denies
    access-analyzer:ListFindings*, GetFindingsStatistics): every run is INCOMPLETE, exit 3.
    The handler's docstring: "gaps (1) and an incomplete scan (3) are results, which the
    topic reports"; only 2 and 4 are function errors (the alarm).

    Observed: the topic is told only "when something changed" (scanner/notify.py
    `changed`): the first run has no baseline, and each later one changes nothing, so three
    weekly runs, all incomplete, publish nothing, return normally (no function error, no
    alarm), and nothing tells anyone that the deployment has never read a finding.
    Expected: a scheduled run that is incomplete (exit 3) is told (published whatever
    changed, or a function error / a metric the stack alarms on)."""
    from deploy import lambda_handler

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    bucket = f"aa-scan-{ACCOUNT}-us-east-1"
    analyzers = [{"type": "ORGANIZATION", "name": "org", "regions": "enabled",
                  "findings": [{"generate": {"count": 3}}]}]
    denied = {"deny_operations": ["access-analyzer:ListFindings",
                                  "access-analyzer:ListFindingsV2",
                                  "access-analyzer:GetFindingsStatistics"]}
    with env_world(monkeypatch, analyzers=analyzers, scanner=denied) as world:
        world.client("s3").create_bucket(Bucket=bucket)
        sns, sqs = world.client("sns"), world.client("sqs")
        topic = sns.create_topic(Name="aa-scan-changes")["TopicArn"]
        queue = sqs.create_queue(QueueName="mailbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        for name, value in {"AA_SCAN_BUCKET": bucket, "AA_SCAN_TOPIC_ARN": topic,
                            "AA_SCAN_SIGNING_KEY": "", "AA_SCAN_FAIL_ON": "new-gaps",
                            "AA_SCAN_FORMATS": "json"}.items():
            monkeypatch.setenv(name, value)
        results = [lambda_handler.handler({"source": "aa-scan-weekly"}, None)
                   for _ in range(3)]
        told = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert [r["exit_code"] for r in results] == [3, 3, 3], results
    assert told, (f"three incomplete runs ({results[0]['meaning']}), no function error, and "
                  "nothing published to the topic")


def test_deploy_the_scanner_role_may_write_every_aa_scan_bucket_not_only_its_own():
    """deploy/template.yaml: the function writes to one bucket, its EvidenceBucket
    (aa-scan-<account>-<region>: packs/ and history/history.sqlite). Its role holds
    AaScanOptionalUploadEvidence and AaScanOptionalHistoryS3 verbatim from
    config/iam-policy.json: s3:PutObject (and GetObject, ListBucket, ListBucketVersions) on
    arn:*:s3:::aa-scan-* and arn:*:s3:::aa-scan-*/* -- every bucket whose name starts
    aa-scan- in the organization.

    Observed: the role (and so any code in the function's zip: 150 MiB of third-party
    packages) can overwrite the history and the evidence packs of every other aa-scan
    deployment it can reach -- in its own account with no bucket policy needed (the stack
    deployed in a second region, aa-scan-<account>-<other region>; a code bucket named
    aa-scan-artifacts) -- and read all of them; nothing in the template needs more than
    its own bucket. (The same for sts:AssumeRole on every aa-scan-* role once one role name
    is given.)
    Expected: the deployment's S3 statements name its own bucket (!GetAtt
    EvidenceBucket.Arn and its objects), e.g. the one-source check comparing actions and
    conditions with config/iam-policy.json but allowing the template to narrow Resource."""
    from deploy.build_lambda import load_template

    template = load_template()
    statements = template["Resources"]["ScannerRole"]["Properties"]["Policies"][0][
        "PolicyDocument"]["Statement"]
    wide = []
    for statement in statements:
        statement = statement.get("Fn::If", [None, statement])[1] if isinstance(
            statement, dict) else statement
        actions = statement.get("Action", [])
        if any(a.startswith("s3:Put") for a in actions):
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            wide += [f"{statement['Sid']}: {r}" for r in resources
                     if isinstance(r, str) and "*" in r.split(":::", 1)[-1].split("/")[0]]
    assert wide == [], f"s3:PutObject beyond the stack's EvidenceBucket: {wide}"
