"""Read-only by design: every operation a scan calls is a read that the shipped policy grants,
and no credential ever appears in what the scan prints, logs or writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .conftest import env_world

POLICY = Path(__file__).resolve().parents[2] / "config" / "iam-policy.json"
VERIFIER_POLICY = POLICY.with_name("iam-policy-verifier.json")
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
READ = re.compile(r"^(List|Get|Describe)[A-Z]")
# What an opt-in flag needs, each in a statement of its own that a read-only deployment
# leaves out: flag -> (statement id, actions). Each holds a write or a signature; the reads
# beside it (kms:GetPublicKey, s3:GetObject for HeadObject) serve only that flag, as does
# the one statement of reads alone, kms:DescribeKey (the SSE-KMS key's ARN, to check each
# uploaded object's key on read-back).
OPTIONAL = {
    "--notify-sns": ("AaScanOptionalNotifySns", {"sns:Publish"}),
    "--sign-kms-key": ("AaScanOptionalSignManifest", {"kms:GetPublicKey", "kms:Sign"}),
    "--upload": ("AaScanOptionalUploadEvidence", {"s3:PutObject", "s3:GetObject"}),
    "--upload-kms-key": ("AaScanOptionalUploadEvidenceSseKms", {"kms:GenerateDataKey"}),
    "--upload-kms-key (read-back)": ("AaScanOptionalUploadEvidenceKmsKey", {"kms:DescribeKey"}),
    # --security-hub: the gaps imported, the earlier imports read (to close those gone), in
    # the caller's own account only.
    "--security-hub": ("AaScanOptionalSecurityHub", {"securityhub:BatchImportFindings",
                                                     "securityhub:GetFindings"}),
    # --history s3://BUCKET/KEY: the history read and written back (s3:ListBucket, so a
    # history not there yet is NoSuchKey rather than AccessDenied).
    "--history s3://": ("AaScanOptionalHistoryS3", {"s3:GetObject", "s3:PutObject",
                                                    "s3:ListBucket"}),
    "--admin-role-name": ("AaScanOptionalAssumeRoles", {"sts:AssumeRole",
                                                        "sts:SetSourceIdentity"}),
    "--member-role-name": ("AaScanOptionalAssumeRoles", {"sts:AssumeRole",
                                                         "sts:SetSourceIdentity"}),
}
READS_ONLY = {"AaScanOptionalUploadEvidenceKmsKey"}
# The IAM action that authorizes an operation, where the two names differ (ListFindingsV2:
# "ListFindings and ListFindingsV2 both use access-analyzer:ListFindings", API reference).
AUTHORIZED_BY = {"s3:HeadObject": "s3:GetObject",
                 "access-analyzer:ListFindingsV2": "access-analyzer:ListFindings"}


def policy_actions(optional: bool = False) -> set[str]:
    """The actions of the read statements (or, with optional=True, of the opt-in ones)."""
    document = json.loads(POLICY.read_text())
    actions: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        if statement["Sid"].startswith("AaScanOptional") == optional:
            actions.update(statement["Action"])
    return actions


def test_the_policy_grants_only_reads_except_in_opt_in_statements():
    actions = policy_actions()
    assert actions
    for action in actions:
        _service, operation = action.split(":")
        assert READ.match(operation), action
    statements = {s["Sid"]: set(s["Action"]) for s in json.loads(POLICY.read_text())[
        "Statement"] if s["Sid"].startswith("AaScanOptional")}
    assert statements == dict(OPTIONAL.values())
    for sid, actions in OPTIONAL.values():
        assert any(not READ.match(a.split(":")[1]) for a in actions) != (sid in READS_ONLY), sid


def test_every_optional_statement_is_tied_to_the_organization_in_any_partition():
    """Issue 20 §5: a write goes only to a resource of the caller's own organization, in
    whichever partition it runs; kms:Verify is the verifier's, not the scanner's."""
    document = json.loads(POLICY.read_text())
    for statement in document["Statement"]:
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            assert resource == "*" or resource.startswith("arn:*:"), statement["Sid"]
        if statement["Sid"].startswith("AaScanOptional"):
            # Security Hub's is also tied to the caller's own account (its findings go there).
            assert statement["Condition"]["StringEquals"] == {
                "aws:ResourceOrgID": "${aws:PrincipalOrgID}",
                **({"aws:ResourceAccount": "${aws:PrincipalAccount}"}
                   if statement["Sid"] == "AaScanOptionalSecurityHub" else {})}, statement["Sid"]
    assert "kms:Verify" not in policy_actions() | policy_actions(optional=True)
    verifier = json.loads(VERIFIER_POLICY.read_text())
    assert [a for s in verifier["Statement"] for a in s["Action"]] == ["kms:Verify"]


def test_every_operation_of_a_full_scan_is_a_read_granted_by_the_policy(monkeypatch, run_scan):
    analyzers = [{"type": "ORGANIZATION", "name": "org", "regions": REGIONS,
                  "archive_rules": [{"name": "r", "filter": {"isPublic": {"eq": ["false"]}}}],
                  "findings": [{"generate": {"count": 400}}]},
                 {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal",
                  "region": "us-east-1", "findings": [{"generate": {"count": 5}}]},
                 {"type": "ORGANIZATION_UNUSED_ACCESS", "name": "unused", "region": "us-east-1",
                  "findings": [{"generate": {"count": 5}}]}]
    called: dict[str, int] = {}
    # A normal scan, and one where account:ListRegions is refused (ec2 fall-back), reading
    # every analysis (internal and unused access through ListFindingsV2).
    for scanner in ({}, {"deny_operations": ["account:ListRegions"]}):
        with env_world(monkeypatch, page_size_cap=20, analyzers=analyzers,
                       scanner=scanner) as world:
            run = run_scan("--unused-findings")
            assert run.code == 0
            for operation, count in world.stats.snapshot()["operations"].items():
                operation = AUTHORIZED_BY.get(operation, operation)
                called[operation] = called.get(operation, 0) + count
    granted = policy_actions()
    for operation in called:
        assert operation in granted, f"{operation} is called but not in {POLICY.name}"
        assert READ.match(operation.split(":")[1]), operation
    # The scan really exercised the policy: all of it, nothing else.
    assert set(called) == granted
    assert "access-analyzer:GetFinding" not in called
    # Without the opt-in flags: no write, no signature, no call to KMS, S3 or SNS at all.
    assert not set(called) & policy_actions(optional=True)
    assert not [op for op in called if op.split(":")[0] in ("kms", "s3", "sns")]


def test_the_opt_in_flags_call_only_what_their_optional_statements_grant(monkeypatch,
                                                                          run_scan):
    analyzers = [{"type": "ORGANIZATION", "name": "org", "regions": REGIONS,
                  "findings": [{"generate": {"count": 30}}]}]
    with env_world(monkeypatch, analyzers=analyzers) as world:
        key = world.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
        evidence = world.client("kms").create_key()["KeyMetadata"]["KeyId"]
        world.client("kms").create_alias(AliasName="alias/aa-scan-evidence",
                                         TargetKeyId=evidence)
        world.client("s3").create_bucket(Bucket="aa-scan-evidence")
        world.stats.reset()  # the setup above used the scanner's credentials too
        run = run_scan("--sign-kms-key", key["KeyMetadata"]["Arn"],
                       "--upload", "s3://aa-scan-evidence/packs/", "--upload-kms-key",
                       "alias/aa-scan-evidence")
        called = set(world.stats.snapshot()["operations"])
    assert run.code == 0, run.err
    extra = {AUTHORIZED_BY.get(op, op) for op in called} - policy_actions()
    optional = {flag: actions for flag, (_sid, actions) in OPTIONAL.items()}
    assert extra == {"kms:GetPublicKey", "kms:Sign", "s3:PutObject", "s3:GetObject",
                     "kms:DescribeKey"}
    assert extra <= (optional["--sign-kms-key"] | optional["--upload"]
                     | optional["--upload-kms-key (read-back)"])
    # kms:GenerateDataKey is S3's call on the caller's behalf with SSE-KMS, not aa-scan's.
    assert "kms:GenerateDataKey" not in called


def test_the_admin_role_adds_only_sts_assume_role_to_the_reads(monkeypatch, run_scan):
    """From a member account the role is assumed twice (into the management account, then
    from there into the delegated administrator); every other call is a read."""
    analyzers = [{"type": "ORGANIZATION", "name": "org", "regions": REGIONS,
                  "findings": [{"generate": {"count": 30}}]}]
    with env_world(monkeypatch, analyzers=analyzers,
                   scanner={"account": "333333333333"}) as world:
        run = run_scan("--admin-role-name", "AuditRole")
        called = world.stats.snapshot()["operations"]
    assert run.code == 0, run.document["summary"]["incomplete_reasons"]
    assert set(called) - policy_actions() == {"sts:AssumeRole"}
    assert called["sts:AssumeRole"] == 2


def test_no_credentials_in_output_logs_or_reports(monkeypatch, run_scan, tmp_path, capsys):
    log_file = tmp_path / "scan.log"
    analyzers = [{"type": "ORGANIZATION", "name": "org", "regions": REGIONS[:2],
                  "findings": [{"generate": {"count": 30}}]}]
    with env_world(monkeypatch, analyzers=analyzers,
                   conditions={"ap-southeast-2": {"deny": True}}) as world:
        secrets = [world.scanner_credentials[k]
                   for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")]
        from scanner.cli import main

        out = tmp_path / "out"
        code = main(["--debug", "--output-dir", str(out), "--log-file", str(log_file)])
        bad = main(["--debug", "--output-dir", str(tmp_path / "bad"), "--log-file",
                    str(log_file), "--role-arn", "arn:aws:iam::222222222222:role/Missing"])
    assert code == 3 and bad == 2
    captured = capsys.readouterr()
    texts = {"log": log_file.read_text(), "stdout": captured.out, "stderr": captured.err}
    for path in out.iterdir():
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            import zipfile

            with zipfile.ZipFile(path) as archive:
                data = b"".join(archive.read(name) for name in archive.namelist())
        texts[path.name] = data.decode("utf-8", "replace")
    assert {"scan.json", "report.html", "report.xlsx"} <= set(texts)
    assert "DEBUG" in texts["stderr"] and "cannot assume role" in texts["stderr"]
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a credential leaked into {name}"
