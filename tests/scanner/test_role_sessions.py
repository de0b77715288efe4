"""Role sessions tied to their run (issue 20 §5): every AssumeRole a run makes, through each
hop of a role chain and the member view's, is named <role_session_name>-<run id> and carries
SourceIdentity aa-scan-<run id>, which CloudTrail records on every call made with it. The
simulated STS (moto) accepts SourceIdentity as AWS does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import scanner.aws

from .conftest import env_world

MEMBER = "333333333333"
ANALYZERS = [
    {"type": "ORGANIZATION", "name": "org", "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"]}
]


def recording_assume_role(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The parameters of every sts:AssumeRole aa-scan sends."""
    made = scanner.aws._botocore_session
    sent: list[dict[str, Any]] = []

    def recording(profile: str | None) -> Any:
        session = made(profile)
        session.register(
            "provide-client-params.sts.AssumeRole", lambda params, **_: sent.append(dict(params))
        )
        return session

    monkeypatch.setattr(scanner.aws, "_botocore_session", recording)
    return sent


@pytest.mark.parametrize(
    "scanner, args, hops",
    [
        # From a member account: into the management account, then, chained from that session,
        # into the delegated administrator.
        ({"account": MEMBER}, ("--admin-role-name", "AuditRole"), 2),
        # The member view, from the delegated administrator: a role in each other account.
        ({}, ("--member-accounts", "all", "--member-role-name", "MemberAudit"), 2),
    ],
)
def test_every_role_session_carries_the_run_id(monkeypatch, run_scan, scanner, args, hops,
                                               tmp_path: Path):
    sent = recording_assume_role(monkeypatch)
    roles = [{"name": "MemberAudit", "accounts": ["111111111111", MEMBER]}]
    config = tmp_path / "aa-scan.yaml"
    config.write_text("aws:\n  source_identity: true\n")
    with env_world(monkeypatch, analyzers=ANALYZERS, scanner=scanner, roles=roles):
        run = run_scan("--config", str(config), *args)
    assert run.code == 0, run.document["summary"]["incomplete_reasons"]
    run_id = run.document["run_id"]
    assert len(sent) == hops
    assert {(p["RoleSessionName"], p["SourceIdentity"]) for p in sent} == {
        (f"aa-scan-{run_id}", f"aa-scan-{run_id}")
    }
    assert all(a["error"] is None for a in run.document["organization"]["examined_accounts"])
    if "member_view" in run.document:
        assert run.document["member_view"]["summary"]["error"] == 0


def test_source_identity_is_opt_in(monkeypatch, run_scan, tmp_path: Path):
    """Off by default: a trust policy written before it (no sts:SetSourceIdentity) keeps
    working; the session name still carries the run id."""
    sent = recording_assume_role(monkeypatch)
    config = tmp_path / "aa-scan.yaml"
    config.write_text("aws:\n  role_session_name: audit\n")
    with env_world(monkeypatch, analyzers=ANALYZERS, scanner={"account": MEMBER}):
        run = run_scan("--config", str(config), "--admin-role-name", "AuditRole")
    assert run.code == 0
    assert sent and all("SourceIdentity" not in p for p in sent)
    assert {p["RoleSessionName"] for p in sent} == {f"audit-{run.document['run_id']}"}
