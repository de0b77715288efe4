"""Bad input: one line naming the problem, exit 2, no traceback, nothing half-written."""

from __future__ import annotations

import json

import pytest

from .conftest import env_world

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
ANALYZERS = [{"type": "ORGANIZATION", "name": "org", "regions": REGIONS}]


def assert_one_line_error(run, *fragments: str) -> None:
    assert run.code == 2, (run.code, run.err)
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert "Traceback" not in run.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not run.document  # nothing scanned, nothing written as if it had been


@pytest.mark.parametrize("args, fragments", [
    (["--regions", "us-east-1,eu_west-1"], ["unknown region 'eu_west-1'",
                                           "did you mean 'eu-west-1'"]),
    (["--regions", "us-east-1", "--exclude", "us-east-1"], ["leave nothing to scan"]),
    (["--workers", "0"], ["workers", "from 1 to 256"]),
    (["--format", "pdf"], ["output.formats", "'pdf'"]),
    (["--role-arn", "not-an-arn"], ["aws.role_arn", "expected a role ARN"]),
    (["--no-such-flag"], ["unrecognized arguments: --no-such-flag"]),
    (["--fail-on", "sometimes"], ["--fail-on", "invalid choice"]),
])
def test_bad_flags(run_scan, args, fragments):
    assert_one_line_error(run_scan(*args), *fragments)


def test_malformed_yaml_names_line_and_column(run_scan, tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text("regions:\n  - us-east-1\n exclude: {\n")
    assert_one_line_error(run_scan("--config", str(config)), "broken.yaml:3:", "not valid YAML")


def test_no_credentials(run_scan, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert_one_line_error(run_scan(), "no AWS credentials found")


def test_unknown_profile(run_scan, monkeypatch, tmp_path):
    (tmp_path / "config").write_text("[profile real]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    assert_one_line_error(run_scan("--profile", "imaginary"), "'imaginary'", "not found")


def test_expired_token(run_scan, monkeypatch):
    with env_world(monkeypatch, scanner={"credentials": "expired"}, analyzers=ANALYZERS):
        run = run_scan()
    assert_one_line_error(run, "credentials were rejected", "ExpiredToken")


def test_invalid_token(run_scan, monkeypatch):
    with env_world(monkeypatch, analyzers=ANALYZERS):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANEVERISSUED12345")
        run = run_scan()
    assert_one_line_error(run, "credentials were rejected", "InvalidClientTokenId")


def test_unwritable_output_folder(run_scan, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        from scanner.cli import main

        code = main(["--output-dir", str(blocker / "reports"), "--log-file", "",
                     "--format", "json"])
        calls = world.stats.snapshot()["total_calls"]
    assert code == 2
    assert calls == 0  # refused before anything was scanned


def test_exclusions_that_leave_nothing_after_discovery(run_scan, monkeypatch):
    with env_world(monkeypatch, analyzers=ANALYZERS):
        run = run_scan("--exclude", ",".join(REGIONS))
    assert_one_line_error(run, "exclusions leave no enabled region to scan")


@pytest.mark.parametrize("content, fragments", [
    (None, ["no such file"]),
    ("{not json", ["not valid JSON", "line 1"]),
    ("[1, 2]", ["expected a JSON object"]),
    (json.dumps({"schema_version": 99}), ["schema_version 99 is newer"]),
    (json.dumps({"schema_version": 1, "tool": {}}), ["not a valid scan document"]),
])
def test_from_json_rejects_missing_corrupt_and_newer_files(run_scan, tmp_path, content,
                                                          fragments):
    path = tmp_path / "scan-in.json"
    if content is not None:
        path.write_text(content)
    assert_one_line_error(run_scan("--from-json", str(path)), *fragments)


def test_an_unknown_region_from_the_environment_is_a_configuration_error(run_scan,
                                                                         monkeypatch):
    with env_world(monkeypatch, analyzers=ANALYZERS):
        monkeypatch.setenv("AWS_DEFAULT_REGION", "local")
        run = run_scan()
    assert_one_line_error(run, "'local'", "--home-region")


def test_profile_and_assumed_credentials_are_redacted(tmp_path, monkeypatch):
    from scanner.aws import make_session
    from scanner.config import AwsOptions, Options
    from scanner.logs import REDACTOR

    secret = "ProfileSecretKey0123456789abcdefghijKLMN"
    (tmp_path / "credentials").write_text(
        f"[audit]\naws_access_key_id = AKIAPROFILEKEY123456\naws_secret_access_key = {secret}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    make_session(Options(aws=AwsOptions(profile="audit", home_region="us-east-1")))
    assert REDACTOR.scrub(f"oops {secret}") == "oops [REDACTED]"
