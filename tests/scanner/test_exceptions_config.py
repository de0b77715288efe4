"""Exceptions in the configuration and in --exceptions FILE: validated like the rest of it
(one line naming the file and line, exit 2), and the YAML tricks a file from another team
could hold refused."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.config import load_options
from scanner.errors import ConfigError

TODAY = dt.date(2026, 12, 5)
GOOD = """\
exceptions:
  - region: us-west-2
    code: ACCOUNT_SCOPE_ONLY
    reason: "Sandbox region approved by the risk board"
    owner: secops@example.com
    expires: 2027-03-31
    ticket: RISK-101
  - resource: "arn:aws:s3:::acme-public-*"
    reason: The public website
    owner: web@example.com
    expires: "2027-01-10"
"""


def load(tmp_path: Path, text: str, config: str | None = None):
    risk = tmp_path / "exceptions.yaml"
    risk.write_text(text)
    config_path = None
    if config is not None:
        config_path = tmp_path / "regions.yaml"
        config_path.write_text(config)
    return load_options(config_path, {}, None, risk, today=TODAY)


def test_exceptions_are_read_with_where_each_was_written(tmp_path):
    options = load(tmp_path, GOOD)
    gap, finding = options.exceptions
    assert gap == {"key": "gap:us-west-2:ACCOUNT_SCOPE_ONLY", "kind": "gap",
                   "region": "us-west-2", "code": "ACCOUNT_SCOPE_ONLY", "finding_id": None,
                   "resource": None, "reason": "Sandbox region approved by the risk board",
                   "owner": "secops@example.com", "expires": "2027-03-31",
                   "ticket": "RISK-101", "source": f"{tmp_path / 'exceptions.yaml'}:2"}
    assert (finding["kind"], finding["region"], finding["resource"], finding["source"]) == (
        "finding", "*", "arn:aws:s3:::acme-public-*", f"{tmp_path / 'exceptions.yaml'}:8")
    # The manifest hashes the configuration: the file's SHA-256 is in it.
    summary = options.summary()
    assert summary["exceptions_file"] == {
        "path": str(tmp_path / "exceptions.yaml"),
        "sha256": hashlib.sha256(GOOD.encode()).hexdigest()}
    assert [e["key"] for e in summary["exceptions"]] == [gap["key"], finding["key"]]


def test_an_analyzer_type_is_part_of_a_gap_exceptions_key_and_public_is_recorded(tmp_path):
    typed = ("exceptions:\n"
             "  - {region: eu-west-1, code: NOT_ACTIVE,"
             " analyzer_type: organization_internal_access,"
             " reason: r, owner: o, expires: 2027-01-01}\n"
             "  - {region: eu-west-1, code: NOT_ACTIVE, analyzer_type: ORGANIZATION,"
             " reason: r, owner: o, expires: 2027-01-01}\n"
             "  - {finding_id: f-1, public: true, reason: r, owner: o, expires: 2027-01-01}\n")
    internal, external, finding = load(tmp_path, typed).exceptions
    # One exception per type: the same region and code twice is not a repetition.
    assert (internal["key"], internal["analyzer_type"]) == (
        "gap:eu-west-1:NOT_ACTIVE:ORGANIZATION_INTERNAL_ACCESS", "ORGANIZATION_INTERNAL_ACCESS")
    assert external["key"] == "gap:eu-west-1:NOT_ACTIVE:ORGANIZATION"
    assert finding["public"] is True and "analyzer_type" not in finding
    # Neither key is recorded when not configured: registers written before read the same.
    gap, site = load(tmp_path, GOOD).exceptions
    assert "analyzer_type" not in gap and "public" not in site


def test_the_configuration_and_the_file_add_up_and_may_not_repeat_each_other(tmp_path):
    config = ("exceptions:\n  - {region: eu-west-1, code: NO_ANALYZER, reason: r, owner: o, "
              "expires: 2027-01-01}\n")
    options = load(tmp_path, GOOD, config)
    assert [e["region"] for e in options.exceptions] == ["eu-west-1", "us-west-2", "*"]
    twice = config.replace("eu-west-1", "us-west-2").replace("NO_ANALYZER",
                                                             "ACCOUNT_SCOPE_ONLY")
    with pytest.raises(ConfigError, match=r"exceptions.yaml:2: exceptions: the same gap "
                                          r"exception as .*regions.yaml:2"):
        load(tmp_path, GOOD, twice)


ITEM = "exceptions:\n  - region: us-west-2\n    code: NO_ANALYZER\n"


@pytest.mark.parametrize("text, fragments", [
    (ITEM + "    owner: o\n    expires: 2027-01-01\n",
     [":2: exceptions[0]: reason is missing (each needs reason, owner, expires)"]),
    (ITEM + "    reason: r\n    expires: 2027-01-01\n", [":2: exceptions[0]: owner is missing"]),
    (ITEM + "    reason: r\n    owner: o\n", [":2: exceptions[0]: expires is missing"]),
    (ITEM + "    reason: '  '\n    owner: o\n    expires: 2027-01-01\n",
     [":4: exceptions[0].reason: expected why the risk is accepted"]),
    (ITEM.replace("NO_ANALYZER", "NO_ANALYSER") + "    reason: r\n    owner: o\n"
     "    expires: 2027-01-01\n",
     [":3: exceptions[0].code: unknown value 'NO_ANALYSER'; did you mean 'NO_ANALYZER'?"]),
    (ITEM.replace("NO_ANALYZER", "SCANNED_FROM_MEMBER_ACCOUNT") + "    reason: r\n"
     "    owner: o\n    expires: 2027-01-01\n",
     ["exceptions[0].code: unknown value 'SCANNED_FROM_MEMBER_ACCOUNT'"]),
    (ITEM + "    reason: r\n    owner: o\n    expires: 2027-13-01\n",
     [":6: '2027-13-01' is not a date (month must be in 1..12)"]),
    (ITEM + "    reason: r\n    owner: o\n    expires: '2027-02-30'\n",
     [":6: exceptions[0].expires: '2027-02-30' is not a date (YYYY-MM-DD)"]),
    (ITEM + "    reason: r\n    owner: o\n    expires: next year\n",
     [":6: exceptions[0].expires: expected a date YYYY-MM-DD"]),
    (ITEM + "    reason: r\n    owner: o\n    expires: 2027-01-01T12:00:00Z\n",
     [":6: exceptions[0].expires: expected a date", "got 2027-01-01 12:00:00+00:00"]),
    (ITEM + "    reason: r\n    owner: o\n    expires: 20270101\n",
     [":6: exceptions[0].expires: expected a date"]),
    (ITEM + "    reason: r\n    owner: o\n    expires: 2099-01-01\n",
     [":6: exceptions[0].expires: 2099-01-01 is more than 3 years after today (2026-12-05)"]),
    (ITEM + "    reason: r\n    owner: o\n    expires: 2027-01-01\n    ticket: 0123\n",
     [":7: exceptions[0].ticket: expected a ticket reference as text", "got 83"]),
    (ITEM + "    reason: r\n    owner: o\n    expires: 2027-01-01\n    approver: x\n",
     [":7: exceptions[0].approver: unknown key"]),
    ("exceptions:\n  - code: NO_ANALYZER\n    reason: r\n    owner: o\n    expires: 2027-01-01\n",
     [":2: exceptions[0].code: a gap exception needs region"]),
    ("exceptions:\n  - region: us-west-2\n    reason: r\n    owner: o\n    expires: 2027-01-01\n",
     [":2: exceptions[0]: say what it accepts"]),
    (ITEM + "    finding_id: abc\n    reason: r\n    owner: o\n    expires: 2027-01-01\n",
     [":2: exceptions[0]: an exception accepts a gap (region and code) or findings"]),
    ("exceptions:\n  - finding_id: abc\n    resource: 'arn:aws:s3:::x'\n    reason: r\n"
     "    owner: o\n    expires: 2027-01-01\n", [":2: exceptions[0]: finding_id or resource"]),
    # An exception that would accept everything is refused.
    ("exceptions:\n  - resource: '*'\n    reason: r\n    owner: o\n    expires: 2027-01-01\n",
     [":2: exceptions[0].resource: expected a resource ARN, or an ARN pattern"]),
    ("exceptions:\n  - resource: 'arn:*'\n    reason: r\n    owner: o\n    expires: 2027-01-01\n",
     [":2: exceptions[0].resource: expected an ARN or an ARN pattern with its six fields"]),
    ("exceptions:\n  - resource: 'arn:aws:s3:::*'\n    reason: r\n    owner: o\n"
     "    expires: 2027-01-01\n", [":2: exceptions[0].resource: its resource part is only *"]),
    ("exceptions:\n  - resource: 'arn:aws:s3:::*-*'\n    reason: r\n    owner: o\n"
     "    expires: 2027-01-01\n", [":2: exceptions[0].resource: its resource part is only *"]),
    ("exceptions:\n  - resource: 'arn:aws:kms:*:*:key/*'\n    reason: r\n    owner: o\n"
     "    expires: 2027-01-01\n", [":2: exceptions[0].resource: its resource part (key/*) "
                                  "names only a resource type"]),
    # public: true is a finding exception's; analyzer_type a typed gap exception's.
    (ITEM + "    public: true\n    reason: r\n    owner: o\n    expires: 2027-01-01\n",
     [":4: exceptions[0].public: public belongs to a finding exception"]),
    ("exceptions:\n  - finding_id: abc\n    analyzer_type: ORGANIZATION\n    reason: r\n"
     "    owner: o\n    expires: 2027-01-01\n",
     [":3: exceptions[0].analyzer_type: analyzer_type belongs to a gap exception"]),
    ("exceptions:\n  - region: '*'\n    code: TRUSTED_ACCESS_DISABLED\n"
     "    analyzer_type: ORGANIZATION\n    reason: r\n    owner: o\n    expires: 2027-01-01\n",
     [":4: exceptions[0].analyzer_type: a TRUSTED_ACCESS_DISABLED gap is about no analyzer"]),
    (ITEM + "    analyzer_type: ORGANISATION\n    reason: r\n    owner: o\n"
     "    expires: 2027-01-01\n", [":4: exceptions[0].analyzer_type:", "ORGANIZATION"]),
    ("exceptions:\n  - region: nowhere\n    code: NO_ANALYZER\n    reason: r\n    owner: o\n"
     "    expires: 2027-01-01\n", [":2: exceptions[0].region: expected a region name, or \"*\""]),
    ("exceptions:\n  - region: eu-wset-1\n    code: NO_ANALYZER\n    reason: r\n    owner: o\n"
     "    expires: 2027-01-01\n", []),  # shaped like a region: discovery decides (see below)
    # YAML tricks.
    ("exceptions:\n  - region: *\n    code: NO_ANALYZER\n    reason: r\n    owner: o\n"
     "    expires: 2027-01-01\n", [":2:14: not valid YAML", 'must be quoted: "*"']),
    (ITEM + "    reason: r\n    owner: o\n    expires: 2027-01-01\n    expires: 2028-01-01\n",
     [":7: 'expires' is given twice in one mapping (first on line 6)"]),
    ("x: &d {reason: r, owner: o, expires: 2027-01-01}\nexceptions:\n  - <<: *d\n"
     "    region: us-west-2\n    code: NO_ANALYZER\n", [":3: YAML aliases (*d) are not accepted"]),
    ("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", [":2: YAML aliases (*a) are not accepted"]),
    ("exceptions: !!python/object:os.system {}\n", ["not valid YAML"]),
    ("exceptions:\n  - !!binary aGVsbG8=\n",
     [":2: exceptions[0]: expected a mapping, got b'hello'"]),
    ("--- \nexceptions: []\n---\nexceptions: []\n", ["not valid YAML"]),
    ("regions: [us-east-1]\nexceptions: []\n",
     [":1: an exceptions file holds only `exceptions:` (a list); regions belong in the "
      "configuration file"]),
])
def test_a_bad_exception_is_one_line_naming_file_and_line(tmp_path, text, fragments):
    if not fragments:
        assert load(tmp_path, text).unverified_regions == {
            "eu-wset-1": f"{tmp_path / 'exceptions.yaml'}:2: exceptions[0].region"}
        return
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "exceptions.yaml"))
    for fragment in fragments:
        assert fragment in message, message


def test_a_huge_or_unreadable_exceptions_file_is_refused_before_it_is_parsed(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("exceptions: []\n" + "#" * (1 << 20))
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        load_options(None, {}, None, big)
    utf16 = tmp_path / "utf16.yaml"
    utf16.write_text("exceptions: []\n", encoding="utf-16")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_options(None, {}, None, utf16)
    with pytest.raises(ConfigError, match="exceptions file not found"):
        load_options(None, {}, None, tmp_path / "missing.yaml")


def test_the_command_line_exits_2_and_a_rerender_refuses_new_exceptions(tmp_path, capsys,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(ITEM + "    reason: r\n    owner: o\n")
    assert main(["--exceptions", str(bad), "--log-file", ""]) == 2
    assert "bad.yaml:2: exceptions[0]: expires is missing" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert main(["--from-json", "scan.json", "--exceptions", str(good), "--log-file", ""]) == 2
    assert "a re-render (--from-json) keeps the exceptions its scan.json was judged with" in (
        capsys.readouterr().err)


def test_the_demos_exceptions_name_the_demo_as_their_source(tmp_path, monkeypatch):
    """An auditor reading --demo's register sees where its exceptions come from, not
    "built-in settings", which reads like a default of the tool."""
    from simulator.demo import demo_exceptions

    monkeypatch.chdir(tmp_path)  # no config/regions.yaml here
    options = load_options(None, {}, {"exceptions": demo_exceptions(TODAY)}, today=TODAY)
    assert {e["source"] for e in options.exceptions} == {
        "the demo's own settings (simulator/demo.py)"}
