"""The one derive step: what the reports and the manifest state about a scan document, computed
once from the rest of it into its `derived` block.

The scope (population, regions), the completeness and the API calls, the SHA-256 of the
configuration, the controls the verdict is evidence for and how the document answers each,
and every archive rule classified from its filter (reports.document.scope, .controls and
.archive_rules hold the rules). The run calls `derive` once, on the
final document, before the writers and the manifest; they only read `derived_of(document)`.
A scan.json read back (`--from-json`) is derived again: a document written before the block
existed gets it, and a block edited in a file is replaced, never trusted.
"""

from __future__ import annotations

from reports.document import archive_rules
from reports.document.controls import assess, verdict_controls
from reports.document.schema import ArchiveRuleAssessment, Derived, ScanDocument
from reports.document.scope import completeness, configuration_sha256, scope


class NotDerivedError(ValueError):
    """A document given to a report or the manifest without going through `derive`: a defect
    of the caller, not of the document."""


def derive(document: ScanDocument) -> ScanDocument:
    """A copy of the document with `derived` computed from the rest of it (last among its
    keys); the document given is not changed. Pure: no I/O, no clock."""
    derived: Derived = {
        "scope": scope(document),
        "completeness": completeness(document),
        "configuration_sha256": configuration_sha256(document["configuration"]),
        "controls": list(document["summary"].get("controls", verdict_controls())),
        "control_answers": assess(document),
        "archive_rules": classified_rules(document),
    }
    result = document.copy()
    result.pop("derived", None)
    result["derived"] = derived
    return result


def classified_rules(document: ScanDocument) -> list[ArchiveRuleAssessment]:
    """Every archive rule of the document, classified from its filter, beside the findings
    its analyzer holds in the region (the rules are those of the analyzer read there)."""
    out: list[ArchiveRuleAssessment] = []
    for region in document["regions"]:
        active = (sum(c["active"] for c in region["findings"].values())
                  if region["findings_collected"] else None)
        for rule in region["archive_rules"]:
            found = archive_rules.assess(rule["filter"])
            out.append({"region": region["region"], "analyzer_arn": rule["analyzer_arn"],
                        "name": rule["name"], "classification": found.rule_class,
                        "why": found.why, "archived": region["archived"], "active": active})
    return out


def rule_assessments(document: ScanDocument) -> list[ArchiveRuleAssessment]:
    """The derived archive-rule inventory (a block derived before it was added: computed)."""
    found = derived_of(document).get("archive_rules")
    return classified_rules(document) if found is None else found


def derived_of(document: ScanDocument) -> Derived:
    """The document's `derived` block, or NotDerivedError naming the step that was missed."""
    try:
        return document["derived"]
    except KeyError:
        raise NotDerivedError("the scan document has not been derived: call "
                              "reports.document.derive.derive(document) once before the "
                              "reports and the manifest") from None
