"""Scenario validation: every problem is one ScenarioError line naming the field."""

from __future__ import annotations

import copy
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator import ScenarioError, load_scenario
from simulator.scenario import OPT_IN_REGIONS, all_regions


def base() -> dict[str, Any]:
    return {
        "name": "base",
        "organization": {
            "management_account": {"id": "111111111111", "name": "management"},
            "accounts": [{"id": "222222222222", "name": "security"}],
            "delegated_administrator": "security",
        },
        "regions": {"universe": ["us-east-1", "us-west-2"]},
        "analyzers": [{"name": "org", "type": "ORGANIZATION", "regions": ["us-east-1"]}],
    }


def with_change(path: str, value: Any) -> dict[str, Any]:
    """base() with the value at a dotted path ("analyzers.0.type") replaced or added."""
    doc = base()
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


def error_of(source: Any) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(source)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def test_base_scenario_loads() -> None:
    scenario = load_scenario(base())
    assert scenario.scanner_account == "222222222222"
    assert scenario.regions == {"us-east-1": "ENABLED_BY_DEFAULT",
                                "us-west-2": "ENABLED_BY_DEFAULT"}
    assert [(a.region, a.name, a.account_id) for a in scenario.analyzers] == [
        ("us-east-1", "org", "222222222222")]


@pytest.mark.parametrize(("path", "value", "field", "hint"), [
    ("organisation", {}, "organisation", "unknown key (did you mean 'organization'?)"),
    ("analyzers.0.regoins", ["us-east-1"], "analyzers[0].regoins", "did you mean 'regions'?"),
    ("scanner.role", "AuditRole", "scanner.role", "did you mean 'role_name'?"),
    ("conditions.default.latency", 10, "conditions.default.latency",
     "did you mean 'latency_ms'?"),
])
def test_unknown_key_names_the_field_and_suggests(path: str, value: Any, field: str,
                                                  hint: str) -> None:
    message = error_of(with_change(path, value))
    assert message.startswith(f"scenario: {field}: "), message
    assert hint in message


@pytest.mark.parametrize(("path", "value", "field", "problem"), [
    ("analyzers", "org", "analyzers", "expected a list, got str"),
    ("conditions.default.latency_ms", "fast", "conditions.default.latency_ms",
     "expected a number"),
    ("conditions.default.error_rate", 1.5, "conditions.default.error_rate", "between"),
    ("conditions.default.deny", "yes", "conditions.default.deny", "expected true or false"),
    ("conditions.default.burst", 0, "conditions.default.burst", "integer of at least 1"),
    ("conditions.default.throttle_first", 2.5, "conditions.default.throttle_first",
     "expected an integer of at least 0"),
    ("conditions.default.throttle_first", -1, "conditions.default.throttle_first",
     "expected an integer of at least 0"),
    ("page_size_cap", "100", "page_size_cap", "expected an integer"),
    ("organization.trusted_access", "on", "organization.trusted_access",
     "expected true or false"),
    ("analyzers.0.type", "ORG", "analyzers[0].type", "'ORG' is not one of"),
    ("analyzers.0.status", "BROKEN", "analyzers[0].status", "'BROKEN' is not one of"),
    ("analyzers.0.regions", ["us-east-7"], "analyzers[0].regions[0]", "'us-east-7'"),
    ("analyzers.0.regions", ["eu-west-1"], "analyzers[0].regions[0]", "'eu-west-1'"),
    ("analyzers.0.name", "has space", "analyzers[0].name", "not a valid analyzer name"),
    ("analyzers.0.findings", [{"generate": {"count": "3"}}],
     "analyzers[0].findings[0].generate.count", "expected an integer"),
    ("analyzers.0.findings", [{"resource": "arn:aws:s3:::b", "resource_type": "AWS::S3::Bucket",
                               "created_at": "yesterday"}],
     "analyzers[0].findings[0].created_at", "not an ISO 8601 time"),
    ("analyzers.0.findings", [{"resource": "arn:aws:s3:::b", "resource_type": "S3"}],
     "analyzers[0].findings[0].resource_type", "'S3' is not one of"),
    ("analyzers.0.findings", [{"resource": "arn:aws:s3:::b", "resource_type": "AWS::S3::Bucket",
                               "owner": "nobody"}],
     "analyzers[0].findings[0].owner", "not an account of the scenario"),
    ("analyzers.0.archive_rules", [{"name": "r", "filter": {"status": {"equals": ["ACTIVE"]}}}],
     "analyzers[0].archive_rules[0].filter.status.equals", "unknown key"),
    ("analyzers.0.archive_rules", [{"name": "r", "filter": {"owner": {"eq": ["x"]}}}],
     "analyzers[0].archive_rules[0].filter.owner", "not a filter key"),
    ("scanner.deny_operations", ["ListRegions"], "scanner.deny_operations[0]",
     "service:Operation"),
    ("regions.opt_in_status", {"me-south-1": "ENABLED"}, "regions.opt_in_status.me-south-1",
     "unknown key"),
    ("regions.opt_in_status", {"us-east-1": "ON"}, "regions.opt_in_status.us-east-1",
     "'ON' is not one of"),
])
def test_wrong_values_name_the_field(path: str, value: Any, field: str, problem: str) -> None:
    message = error_of(with_change(path, value))
    assert message.startswith(f"scenario: {field}: "), message
    assert problem in message, message


def test_region_conditions_start_from_the_default() -> None:
    doc = base()
    doc["conditions"] = {"default": {"throttle_first": 5, "latency_ms": 30},
                         "us-west-2": {"throttle_first": 0}}
    scenario = load_scenario(doc)
    assert scenario.conditions_for("us-east-1").throttle_first == 5
    assert scenario.conditions_for("us-west-2").throttle_first == 0
    assert scenario.conditions_for("us-west-2").latency_ms == 30


@pytest.mark.parametrize("bad_id", ["12345", "1111111111112", "11111111111a", 12345, None])
def test_bad_account_id(bad_id: Any) -> None:
    doc = base()
    doc["organization"]["accounts"][0]["id"] = bad_id
    message = error_of(doc)
    assert message.startswith("scenario: organization.accounts[0].id: "), message
    assert "12-digit account id" in message


def test_account_id_listed_twice() -> None:
    doc = base()
    doc["organization"]["accounts"].append({"id": "222222222222", "name": "again"})
    assert "222222222222" in error_of(doc)


def test_missing_name() -> None:
    doc = base()
    del doc["name"]
    assert error_of(doc) == "scenario: top level: missing required key 'name'"


def test_analyzer_defined_twice() -> None:
    doc = base()
    doc["analyzers"].append(copy.deepcopy(doc["analyzers"][0]))
    message = error_of(doc)
    assert message.startswith("scenario: analyzers: "), message
    assert "defined twice" in message


def test_malformed_yaml_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nregions:\n  universe: [us-east-1, us-west-2\nanalyzers: []\n")
    message = error_of(path)
    match = re.fullmatch(r"broken\.yaml: not valid YAML \(line (\d+), column (\d+)\): .+",
                         message)
    assert match, message
    assert int(match.group(1)) == 4


def test_yaml_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump({**base(), "analysers": []}))
    message = error_of(path)
    assert message == "typo.yaml: analysers: unknown key (did you mean 'analyzers'?)"
    top = tmp_path / "list.yaml"
    top.write_text("- a\n- b\n")
    assert error_of(top) == "list.yaml: the top level must be a mapping"
    assert "cannot read" in error_of(tmp_path / "missing.yaml")


def test_unquoted_account_ids_in_yaml_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ints.yaml"
    path.write_text(yaml.safe_dump(base()).replace("'", ""))
    assert load_scenario(path).organization.management.id == "111111111111"


def test_opt_in_regions_are_disabled_unless_enabled() -> None:
    doc = base()
    doc["regions"] = {"universe": ["us-east-1", "me-south-1", "ap-east-1"],
                      "opt_in_status": {"me-south-1": "ENABLED"}}
    scenario = load_scenario(doc)
    assert scenario.regions == {"us-east-1": "ENABLED_BY_DEFAULT", "me-south-1": "ENABLED",
                                "ap-east-1": "DISABLED"}
    assert scenario.enabled_regions == ["us-east-1", "me-south-1"]


def test_default_universe_is_every_region() -> None:
    doc = base()
    del doc["regions"]
    scenario = load_scenario(doc)
    assert list(scenario.regions) == all_regions()
    assert {r for r, s in scenario.regions.items() if s == "DISABLED"} == (
        OPT_IN_REGIONS & set(all_regions()))


def test_generated_findings_are_deterministic() -> None:
    doc = base()
    doc["seed"] = 42
    doc["analyzers"][0]["findings"] = [{"generate": {"count": 30}}]
    first, second = load_scenario(doc), load_scenario(copy.deepcopy(doc))
    assert first.analyzers[0].findings == second.analyzers[0].findings
    assert len(first.analyzers[0].findings) == 30
    doc["seed"] = 43
    assert load_scenario(doc).analyzers[0].findings != first.analyzers[0].findings


def test_bundled_demo_scenario_loads() -> None:
    path = resources.files("simulator") / "scenarios" / "demo.yaml"
    with resources.as_file(path) as demo:
        scenario = load_scenario(demo)
    assert scenario.name == "demo"
    assert scenario.organization is not None
    assert scenario.organization.management.id == "111111111111"
    assert len(scenario.organization.accounts) == 6
    assert scenario.organization.delegated_administrator == "222222222222"
    assert scenario.scanner_account == "222222222222"
    assert scenario.regions["me-south-1"] == "ENABLED"
    assert scenario.regions["af-south-1"] == "DISABLED"
    assert scenario.conditions_for("me-south-1").deny
    assert scenario.conditions_for("us-east-1").latency_ms == 12
    by_region = {(a.region, a.name): a for a in scenario.analyzers}
    assert by_region[("eu-west-2", "org-external-access")].status == "FAILED"
    assert by_region[("ap-northeast-1", "legacy-account-analyzer")].type == "ACCOUNT"
    assert len(by_region[("us-east-1", "org-external-access")].findings) == 26
    assert ("sa-east-1", "org-external-access") not in by_region


def test_a_region_newer_than_botocore_is_declared_with_new() -> None:
    doc = base()
    doc["regions"] = {"universe": ["us-east-1", "new:xx-future-1"],
                      "opt_in_status": {"xx-future-1": "ENABLED"}}
    doc["analyzers"][0]["regions"] = ["us-east-1", "xx-future-1"]
    scenario = load_scenario(doc)
    assert scenario.regions == {"us-east-1": "ENABLED_BY_DEFAULT", "xx-future-1": "ENABLED"}
    assert [a.region for a in scenario.analyzers] == ["us-east-1", "xx-future-1"]
    # Without the marker it is a typo of a known region; with it, it must not be one.
    assert "universe[1]" in error_of(with_change("regions.universe", ["us-east-1",
                                                                      "xx-future-1"]))
    assert "not the name of a region newer than botocore" in error_of(
        with_change("regions.universe", ["new:us-east-1"]))


def test_an_analyzer_can_be_given_its_creation_time() -> None:
    import datetime as dt

    scenario = load_scenario(with_change("analyzers.0.created_at", "2024-05-06T07:08:09Z"))
    assert scenario.analyzers[0].created_at == dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    assert "analyzers[0].created_at" in error_of(with_change("analyzers.0.created_at", "soon"))
