"""The session plumbing: the fast timestamp parser agrees with botocore's own."""

from __future__ import annotations

import datetime as dt

from botocore.utils import parse_timestamp
from hypothesis import given
from hypothesis import strategies as st

from scanner.aws import fast_timestamp

moments = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1),
                       timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5,
                                                                                   minutes=30)),
                                                  dt.timezone(dt.timedelta(hours=-8))]))


@given(moment=moments, style=st.sampled_from(["Z", "ms", "offset", "space", "epoch"]))
def test_fast_timestamp_matches_botocore(moment, style):
    utc = moment.astimezone(dt.UTC)
    if style == "Z":
        text = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif style == "ms":
        text = utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    elif style == "offset":
        text = moment.isoformat()
    elif style == "space":
        text = moment.isoformat(sep=" ")
    else:
        text = utc.timestamp()
    ours = fast_timestamp(text)
    theirs = parse_timestamp(text)
    assert ours.tzinfo is not None and ours.utcoffset() == dt.timedelta(0)
    assert ours == theirs.astimezone(dt.UTC)


@given(moment=moments, style=st.sampled_from(["Z", "ms", "offset", "datetime"]))
def test_utc_text_is_what_formatting_the_parsed_time_gives(moment, style):
    from scanner.aws import utc_text
    from scanner.document import iso

    utc = moment.astimezone(dt.UTC)
    value: object = {"Z": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "ms": utc.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                     "offset": moment.isoformat(), "datetime": moment}[style]
    assert utc_text(value) == iso(utc.replace(microsecond=0))


@given(moment=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                           timezones=st.none() | st.sampled_from(
                               [dt.UTC, dt.timezone(dt.timedelta(hours=-8))])))
def test_the_document_time_is_iso_8601_in_utc_to_the_second(moment):
    """rules.utc_text, the one writer of the document's times, writes what isoformat does
    (a naive time taken as UTC)."""
    from reports.document.rules import utc_text

    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    expected = aware.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    assert utc_text(moment) == expected


def test_utc_text_refuses_an_impossible_date():
    import pytest

    from scanner.aws import utc_text

    with pytest.raises(ValueError):
        utc_text("2026-02-30T10:00:00Z")


def _client(raw: bool, status: int, body: bytes):
    """A real Access Analyzer client whose one answer is `body` (nothing reaches a network)."""
    from types import SimpleNamespace

    import botocore.session
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config

    from scanner.aws import raw_findings_pages

    client = botocore.session.get_session().create_client(
        "accessanalyzer", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    if raw:
        client.meta.events.register("before-parse.accessanalyzer.ListFindings",
                                    raw_findings_pages)
    headers = {"Content-Type": "application/json"}
    if status != 200:
        headers["x-amzn-ErrorType"] = "ValidationException"

    def answer(request, **_):
        return AWSResponse(request.url, status, headers, SimpleNamespace(
            stream=lambda **_: iter([body])))

    client.meta.events.register("before-send.accessanalyzer", answer)
    return client


PAGE = {"findings": [
    {"id": "f-1", "resource": "arn:aws:s3:::b", "resourceType": "AWS::S3::Bucket",
     "resourceOwnerAccount": "111111111111", "principal": {"AWS": "*"},
     "action": ["s3:GetObject"], "condition": {"aws:SourceVpc": "vpc-1"}, "isPublic": True,
     "status": "ACTIVE", "createdAt": "2026-03-14T09:12:00.123Z",
     "updatedAt": "2026-03-15T09:12:00Z", "analyzedAt": "2026-03-16T09:12:00.5Z",
     "error": None, "sources": [{"type": "POLICY"}]},
    {"id": "f-2", "resourceType": "AWS::KMS::Key", "resourceOwnerAccount": "111111111111",
     "status": "ACTIVE", "createdAt": "2026-03-14T09:12:00Z", "updatedAt": "2026-03-14T09:12:00Z",
     "analyzedAt": "2026-03-14T09:12:00Z", "error": "ACCESS_DENIED", "principal": None}],
    "nextToken": "page-2", "unmodeled": "dropped"}


def test_a_raw_findings_page_is_what_botocore_would_have_parsed():
    """The before-parse shortcut hands over the same page as botocore's model walk: the
    same members and values, except timestamps, kept as the text sent, and nulls inside a
    finding, kept (the collector reads a null and a missing member alike)."""
    import json as json_module

    from scanner.aws import utc_text

    body = json_module.dumps(PAGE).encode()
    theirs = _client(False, 200, body).list_findings(analyzerArn="arn")
    ours = _client(True, 200, body).list_findings(analyzerArn="arn")
    assert ours["nextToken"] == theirs["nextToken"] == "page-2"
    assert "unmodeled" not in ours and "unmodeled" not in theirs
    assert len(ours["findings"]) == len(theirs["findings"]) == 2
    for raw, botos in zip(ours["findings"], theirs["findings"], strict=True):
        mine = {k: v for k, v in raw.items() if v is not None}
        assert set(mine) == set(botos)
        for key, value in botos.items():
            if isinstance(value, dt.datetime):
                assert isinstance(mine[key], str) and utc_text(mine[key]) == utc_text(value)
            else:
                assert mine[key] == value, key


def test_an_error_answer_still_takes_botocores_path():
    import pytest

    body = b'{"message": "bad filter"}'
    with pytest.raises(Exception) as raised:
        _client(True, 400, body).list_findings(analyzerArn="arn")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["Error"]["Message"] == "bad filter"
