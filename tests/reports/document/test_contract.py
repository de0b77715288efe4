"""The contract module: its typed form matches the published schema, and it stands alone."""

from __future__ import annotations

from typing import get_args, get_type_hints

import pytest

from reports.document import rules, schema, trail
from tests.builders import covered, finding, make_document, region_scan


@pytest.mark.parametrize("typed, where", [
    (schema.ScanDocument, ()), (schema.Summary, ("summary",)),
    (schema.Organization, ("organization",)), (schema.Region, ("$defs", "region")),
    (schema.Finding, ("$defs", "finding")), (schema.Gap, ("$defs", "gap")),
    (schema.TypeCounts, ("$defs", "type_counts")), (schema.AnalyzerEntry, ("$defs", "analyzer")),
    (schema.Derived, ("$defs", "derived")), (schema.Scope, ("$defs", "derived", "scope")),
    (schema.Completeness, ("$defs", "derived", "completeness")),
    (schema.ControlAnswer, ("$defs", "control_answer")),
    (trail.Changes, ("$defs", "changes")), (trail.TrendPoint, ("$defs", "trend_point")),
    (trail.FindingAge, ("$defs", "finding_age")),
])
def test_every_required_key_of_a_typed_dict_is_required_by_the_json_schema(typed, where):
    node = schema.json_schema()
    for part in where:
        node = node[part] if part in node else node["properties"][part]
    required = set(node.get("required", ()))
    typed_required = set(typed.__required_keys__)
    assert typed_required == required, (typed.__name__, typed_required ^ required)
    assert set(get_type_hints(typed)) <= set(node["properties"]), typed.__name__


def test_a_built_document_validates_and_counts_by_the_one_rule(valid_document):
    document = valid_document(make_document([covered("us-east-1", [
        finding(is_public=True), finding(), finding(is_public=True, error="ACCESS_DENIED"),
        finding(status="ARCHIVED")]), region_scan("eu-west-1", [])],
        finding_statuses=("ACTIVE", "ARCHIVED")))
    counts = document["regions"][0]["findings"]["AWS::S3::Bucket"]
    assert counts == {"active": 3, "public": 1, "cross_account": 1, "errors": 1}
    summary = document["summary"]
    assert (summary["active_findings"], summary["public_findings"],
            summary["cross_account_findings"]) == (3, 1, 1)


@pytest.mark.parametrize("text, shown", [
    ("plain", "plain"), ("tab\tand\nline", "tab\tand\nline"), ("\x1b[31m", "[U+001B][31m"),
    ("\u202egnp.exe", "[U+202E]gnp.exe"), ("\ud800", "[U+D800]"), ("\u200b", "[U+200B]"),
    ("\x00", "[U+0000]"), ("\uffff", "[U+FFFF]"), ("cr\r", "cr\r"), ("é ü 日本", "é ü 日本"),
])
def test_one_cleaning_rule_shows_what_would_hide_spoof_or_inject(text, shown):
    assert rules.reveal(text) == shown
    single = rules.one_line(text)
    assert "\n" not in single and "\r" not in single and "\t" not in single
    single.encode("utf-8")  # no lone surrogate survives


def test_load_document_names_the_problem(tmp_path):
    path = tmp_path / "scan.json"
    for content, fragment in [("{", "not valid JSON"), ("[]", "not a scan document"),
                              ('{"schema_version": 99}', "newer"),
                              ('{"schema_version": 1}', "not a valid scan document")]:
        path.write_text(content)
        with pytest.raises(schema.DocumentError, match=fragment):
            schema.load_document(path)
    with pytest.raises(schema.DocumentError, match="no such file"):
        schema.load_document(tmp_path / "missing.json")


def _schema_enum(*where: str) -> set[object]:
    node = schema.json_schema()
    for part in where:
        node = node[part] if part in node else node["properties"][part]
    return set(node["enum"] if "enum" in node else node["additionalProperties"]["enum"])


@pytest.mark.parametrize("literal, enum, where", [
    (rules.RegionStatusValue, rules.RegionStatus, ("$defs", "region", "status")),
    (rules.VerdictValue, rules.Verdict, ("summary", "verdict")),
    (rules.VerdictValue, None, ("$defs", "trend_point", "verdict")),
    (rules.SeverityValue, rules.Severity, ("$defs", "gap", "severity")),
    (rules.SeverityValue, None, ("$defs", "gap_change", "severity")),
    (rules.ScanningRoleValue, rules.ScanningRole, ("organization", "scanning_account_role")),
    (rules.AnalysisValue, rules.Analysis, ("$defs", "analyzer", "analysis")),
    (rules.GapScope, None, ("$defs", "gap", "scope")),
    (rules.FindingsScope, None, ("$defs", "region", "findings_scope")),
    (rules.ClosedStatus, None, ("$defs", "changes", "findings_closed", "items", "status_now")),
    (rules.ComparedWhat, None, ("$defs", "changes", "compared_with", "items", "what")),
    (rules.MemberStatus, None, ("member_view", "accounts", "items", "status")),
    (rules.MemberCell, None, ("member_view", "accounts", "items", "regions")),
    (schema.ControlStatus, None, ("$defs", "control_answer", "status")),
    (schema.Tone, None, ("$defs", "control_answer", "tone")),
])
def test_each_literal_type_is_its_enum_and_the_schema_enum(literal, enum, where):
    values = set(get_args(literal))
    assert values == _schema_enum(*where) - {None}, where
    if enum is not None:
        assert values == {member.value for member in enum}, enum.__name__


def test_one_of_turns_a_model_string_into_a_contract_value_or_refuses():
    assert rules.one_of("region", rules.GAP_SCOPES) == "region"
    with pytest.raises(ValueError, match="'regional' is not one of organization, region"):
        rules.one_of("regional", rules.GAP_SCOPES)
