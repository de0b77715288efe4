"""The one derive step: what the reports and the manifest state, computed once into the
document; a document that skipped it is refused, one read back is derived again."""

from __future__ import annotations

import copy
import json

import pytest

from reports import excel
from reports.document.controls import assess, verdict_controls
from reports.document.derive import NotDerivedError, classified_rules, derive, derived_of
from reports.document.schema import validate
from reports.document.scope import completeness, configuration_sha256, scope
from reports.html import write_html
from tests.builders import covered, finding, make_document, region_scan


@pytest.fixture
def document():
    built = make_document([covered("us-east-1", [finding(is_public=True)]),
                           region_scan("sa-east-1", analyzers=[]),
                           region_scan("us-west-1", excluded="decommissioned")])
    built["api_calls"] = {"ListFindings": 3, "ListAnalyzers": 2}
    return built


def test_each_part_is_what_its_rule_computes(document):
    derived = derive(document)["derived"]
    assert derived == {
        "scope": scope(document),
        "completeness": completeness(document),
        "configuration_sha256": configuration_sha256(document["configuration"]),
        "controls": document["summary"]["controls"],
        "control_answers": assess(document),
        "archive_rules": classified_rules(document),
    }
    assert derived["control_answers"] is not None
    assert {a["status"] for a in derived["control_answers"]} <= {"Met", "Not met",
                                                                  "Not determined"}


def test_the_document_given_is_not_changed_and_derived_comes_last(document, valid_document):
    before = copy.deepcopy(document)
    derived = valid_document(derive(document))
    assert document == before
    assert list(derived) == [*before, "derived"]
    assert derive(derived) == derived  # deriving again changes nothing


def test_a_derived_block_read_from_a_file_is_replaced_not_trusted(document):
    edited = json.loads(json.dumps(derive(document)))
    edited["derived"]["scope"]["regions_scanned"] = []
    edited["derived"]["configuration_sha256"] = "0" * 64
    edited["derived"]["control_answers"] = []
    assert derive(validate(edited)) == derive(document)


def test_a_document_written_before_the_mapping_gets_every_control_and_no_answers(document):
    document = copy.deepcopy(document)
    del document["summary"]["controls"], document["api_calls"]
    for gap in document["gaps"]:
        gap.pop("controls", None)
    derived = derive(validate(document))["derived"]
    assert derived["controls"] == verdict_controls()
    assert derived["control_answers"] is None
    assert derived["completeness"]["api_calls"] is None


def test_a_report_given_a_document_that_skipped_derive_says_which_step(document, tmp_path):
    with pytest.raises(NotDerivedError, match="derive"):
        derived_of(document)
    with pytest.raises(NotDerivedError):
        write_html(document, tmp_path)
    with pytest.raises(NotDerivedError):
        excel.write_workbook(document, tmp_path)
    assert list(tmp_path.iterdir()) == []
