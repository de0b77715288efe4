"""The scheduled deployment (deploy/): the templates pass cfn-lint, the scanner role is
config/iam-policy.json's, the member role can only list analyzers, the build is pinned, and the
Lambda handler, invoked as Lambda invokes it, scans the simulated organization and keeps its
pack and its history in the simulated S3, with nothing left on the machine."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

from deploy import lambda_handler
from deploy.build_lambda import (
    CONSTRAINTS,
    DEPLOY,
    POLICY,
    ROOT,
    load_template,
    policy_differences,
)
from tests.scanner.conftest import env_world

ACCOUNT = "222222222222"
BUCKET = f"aa-scan-{ACCOUNT}-us-east-1"
ANALYZERS = [{"type": "ORGANIZATION", "name": "org", "regions": "enabled",
              "findings": [{"generate": {"count": 6}}]}]


@pytest.mark.parametrize("name", ["template.yaml", "member-role.yaml"])
def test_the_templates_pass_cfn_lint(name):
    from cfnlint.api import ManualArgs, lint_file

    problems = lint_file(DEPLOY / name, config=ManualArgs())
    assert problems == [], "\n".join(str(p) for p in problems)


def test_the_scanner_role_is_the_policys_own_statements():
    assert policy_differences() == []
    template = load_template()
    statements = template["Resources"]["ScannerRole"]["Properties"]["Policies"][0][
        "PolicyDocument"]["Statement"]
    sids = {s["Sid"] for s in statements}
    # The opt-in writes this deployment makes, and no others (no SSE-KMS upload key).
    assert {s for s in sids if s.startswith("AaScanOptional")} == {
        "AaScanOptionalNotifySns", "AaScanOptionalSignManifest", "AaScanOptionalUploadEvidence",
        "AaScanOptionalSecurityHub", "AaScanOptionalHistoryS3", "AaScanOptionalAssumeRoles"}
    # A statement edited in the template (not in the policy) is caught.
    statements[0]["Action"].append("iam:PassRole")
    assert policy_differences(template) == [f"AaScanIdentity: differs from {POLICY.name}"]


def test_what_the_stack_names_is_what_the_policy_allows():
    """The bucket, topic, key alias and role names match the policy's aa-scan-* patterns, the
    key signs with ECC_NIST_P256, and the bucket is versioned, encrypted and private."""
    resources = load_template()["Resources"]
    assert resources["EvidenceBucket"]["Properties"]["BucketName"] == {
        "Sub": "aa-scan-${AWS::AccountId}-${AWS::Region}"}
    bucket = resources["EvidenceBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert resources["ChangesTopic"]["Properties"]["TopicName"].startswith("aa-scan-")
    assert resources["SigningKeyAlias"]["Properties"]["AliasName"].startswith("alias/aa-scan-")
    key = resources["SigningKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    function = resources["ScanFunction"]["Properties"]
    assert function["Handler"] == "lambda_handler.handler" and function["Timeout"] == 900
    schedule = resources["WeeklySchedule"]["Properties"]
    assert schedule["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 0}


def test_the_member_role_can_only_list_analyzers_and_trusts_only_the_scanner():
    from tests.scanner.test_read_only import policy_actions

    template = load_template(DEPLOY / "member-role.yaml")
    role = template["Resources"]["MemberRole"]["Properties"]
    actions = {a for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]
               for a in s["Action"]}
    assert actions == {"access-analyzer:ListAnalyzers"} and actions <= policy_actions()
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Ref": "ScannerRoleArn"}}
    assert template["Parameters"]["RoleName"]["Default"].startswith("aa-scan-")


def test_the_build_pins_every_runtime_dependency():
    pinned = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{line}: not pinned"
            pinned[name.lower().replace("_", "-")] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = requirement.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        assert name.lower().replace("_", "-") in pinned, f"{name} is not in {CONSTRAINTS.name}"


class _Context:
    """What Lambda passes a Python handler, as far as the handler reads it."""

    function_name = "aa-scan"
    aws_request_id = "c0ffee00-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def deployed(monkeypatch, tmp_path):
    """The simulated organization with what the stack creates: the bucket, the topic, the
    signing key; the function's environment as the template sets it; /tmp a folder of the
    test's own."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        world.client("s3").create_bucket(Bucket=BUCKET)
        topic = world.client("sns").create_topic(Name="aa-scan-changes")["TopicArn"]
        kms = world.client("kms")
        key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        kms.create_alias(AliasName="alias/aa-scan-signing", TargetKeyId=key["KeyId"])
        world.client("securityhub").enable_security_hub()
        for name, value in {"AA_SCAN_BUCKET": BUCKET, "AA_SCAN_TOPIC_ARN": topic,
                            "AA_SCAN_SIGNING_KEY": key["Arn"], "AA_SCAN_FAIL_ON": "new-gaps",
                            "AA_SCAN_ADMIN_ROLE_NAME": "", "AA_SCAN_MEMBER_ROLE_NAME": "",
                            "AA_SCAN_SECURITY_HUB": "true",
                            "AWS_LAMBDA_FUNCTION_NAME": "aa-scan"}.items():
            monkeypatch.setenv(name, value)
        yield world


def _objects(world: Any) -> list[str]:
    listed = world.client("s3").list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_the_handler_scans_and_keeps_its_pack_and_history_in_s3(deployed, tmp_path, capsys):
    world = deployed
    event = {"source": "aa-scan-weekly"}  # what the schedule's target sends
    first = lambda_handler.handler(event, _Context())
    second = lambda_handler.handler(event, _Context())
    keys = _objects(world)
    assert (first["exit_code"], second["exit_code"]) == (0, 0), capsys.readouterr().err
    assert first["meaning"] == "compliant and complete"
    assert first["request_id"] == _Context.aws_request_id
    run = first["run_id"]
    assert first["pack"] == f"s3://{BUCKET}/packs/{run}/"
    assert {f"packs/{run}/{name}" for name in (
        "scan.json", "report.html", "report.xlsx", "findings.ocsf.json", "junit.xml",
        "manifest.json", "manifest.json.sig")} <= set(keys)
    assert "history/history.sqlite" in keys
    # The second run was compared with the first, through the history in S3 alone: the
    # function kept nothing on its machine between the two.
    history = tmp_path / "history.sqlite"
    history.write_bytes(world.client("s3").get_object(
        Bucket=BUCKET, Key="history/history.sqlite")["Body"].read())
    with sqlite3.connect(history) as database:
        runs = [r[0] for r in database.execute("SELECT run_id FROM runs ORDER BY seq")]
    assert runs == [run, second["run_id"]]
    scan = json.loads(world.client("s3").get_object(
        Bucket=BUCKET, Key=f"packs/{second['run_id']}/scan.json")["Body"].read())
    assert scan["changes"]["baseline"]["run_id"] == run
    assert not list((tmp_path / "tmp").iterdir())  # nothing left in /tmp
    # Downloaded, the pack is intact and signed by the stack's key.
    folder = tmp_path / "pack"
    folder.mkdir()
    for key in keys:
        if key.startswith(f"packs/{run}/"):
            (folder / key.rsplit("/", 1)[1]).write_bytes(world.client("s3").get_object(
                Bucket=BUCKET, Key=key)["Body"].read())
    from scanner.cli import main

    capsys.readouterr()
    assert main(["verify", str(folder), "--hashes-only"]) == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["run_by"]["aws_environment"]["AWS_LAMBDA_FUNCTION_NAME"] == "aa-scan"


def test_a_run_that_cannot_scan_is_a_function_error(deployed, monkeypatch):
    monkeypatch.setenv("AA_SCAN_BUCKET", "aa-scan-no-such-bucket")
    with pytest.raises(lambda_handler.RunFailed, match='"exit_code": 2'):
        lambda_handler.handler({}, _Context())


def test_the_command_line_follows_the_environment():
    argv = lambda_handler.arguments({
        "AA_SCAN_BUCKET": "b", "AA_SCAN_MEMBER_ROLE_NAME": "aa-scan-member",
        "AA_SCAN_ADMIN_ROLE_NAME": "aa-scan-admin", "AA_SCAN_SECURITY_HUB": "false",
        "AA_SCAN_FAIL_ON": "gaps"}, Path("/tmp/x"))
    assert argv == ["--output-dir", "/tmp/x", "--log-file", "", "--format",
                    "json,html,xlsx,ocsf,junit", "--history", "s3://b/history/history.sqlite",
                    "--upload", "s3://b/packs/", "--fail-on", "gaps", "--admin-role-name",
                    "aa-scan-admin", "--member-accounts", "all", "--member-role-name",
                    "aa-scan-member"]
