"""Both administrator accounts in one run (--admin-role-name): role hops, the union of their
analyzers, one findings source per region, roles that cannot be assumed, expiring sessions."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from scanner.aws import assume_role_session, make_session
from scanner.config import AwsOptions, Options

from .conftest import env_world

ADMIN, MANAGEMENT, MEMBER = "222222222222", "111111111111", "333333333333"


def test_assumed_role_credentials_are_refreshed_before_they_expire(monkeypatch):
    """The simulated STS hands out 2-second sessions and refuses their keys afterwards:
    the assumed session keeps working because botocore assumes the role again."""
    with env_world(monkeypatch, sts={"session_seconds": 2}) as world:
        options = Options(aws=AwsOptions(external_id=None))
        assumed = assume_role_session(make_session(options),
                                      f"arn:aws:iam::{MANAGEMENT}:role/AuditRole", options)
        client = assumed.client("accessanalyzer", region_name="us-east-1")
        first = assumed.get_credentials().get_frozen_credentials()
        static = world.client("accessanalyzer", "us-east-1", credentials={
            "AccessKeyId": first.access_key, "SecretAccessKey": first.secret_key,
            "SessionToken": first.token})
        client.list_analyzers()
        deadline = time.time() + 10
        while True:  # until the first session has expired (the simulator refuses it)
            try:
                static.list_analyzers()
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ExpiredTokenException"
                break
            assert time.time() < deadline, "the simulated session never expired"
            time.sleep(0.2)
        assert client.list_analyzers()["analyzers"] == []
        now = assumed.get_credentials().get_frozen_credentials()
        assert now.access_key != first.access_key
        assert world.stats.operations[("sts", "AssumeRole")] >= 2


def test_a_role_requiring_an_external_id_refuses_a_wrong_one(monkeypatch):
    roles = [{"name": "AaScanAdmin", "accounts": ["management"], "external_id": "s3cret"}]
    with env_world(monkeypatch, roles=roles):
        arn = f"arn:aws:iam::{MANAGEMENT}:role/AaScanAdmin"
        for given in (None, "wrong"):
            options = Options(aws=AwsOptions(external_id=given))
            with pytest.raises(ClientError, match="AccessDenied"):
                assume_role_session(make_session(options), arn, options)
        options = Options(aws=AwsOptions(external_id="s3cret"))
        session = assume_role_session(make_session(options), arn, options)
        assert session.client("sts").get_caller_identity()["Account"] == MANAGEMENT
