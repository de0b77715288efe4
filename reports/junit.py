"""junit.xml: the scan as JUnit test results, which CI systems show without a plugin.

One suite of organization checks (trusted access, where the scan ran, ...), one test case
per region the scan listed, and, when the member view ran, one test case per account:

- a gap is a `failure` (message: its title; text: why it matters and the command that fixes
  it, with where to run it);
- a region (or account) that could not be assessed is an `error` with its reason: nothing
  was seen there, and CI should not call that a pass;
- a region not enabled or excluded by the configuration is `skipped`, with the reason;
- an accepted exception (issue 23) passes, its reason, owner and expiry in `system-out`;
  advisories are in `system-out` too.

Built with xml.etree (no markup assembled in strings); text from AWS is kept to what XML 1.0
can hold: characters it cannot carry are shown as [U+XXXX], as the other reports show them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from reports.document.evaluations import Evaluation, evaluations
from reports.document.rules import member_outcome
from reports.document.schema import Gap, ScanDocument

from .files import write_atomic

if TYPE_CHECKING:
    from reports.document.pack import Integrity

FILE_NAME = "junit.xml"
# What XML 1.0 cannot hold (controls but tab, line feed and carriage return; surrogates;
# U+FFFE and U+FFFF), and what the reports never show as it is (bidi overrides, ...).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e"
                      "\u2060-\u2069\ufeff\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub(lambda m: f"[U+{ord(m.group()):04X}]", value)


def _gap_text(gaps: Iterable[Gap]) -> str:
    return "\n\n".join(
        f"[{g['severity']}] {g['title']}\n{g['detail']}\nFix: {g['remediation']}"
        + (f"\n{g['remediation_note']}" if g["remediation_note"] else "") for g in gaps)


class _Suite:
    """One <testsuite>, counted as its cases are added."""

    def __init__(self, parent: ET.Element, name: str, timestamp: str) -> None:
        self.element = ET.SubElement(parent, "testsuite", name=_text(name),
                                     timestamp=timestamp.rstrip("Z"))
        self.counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        self.seconds = 0.0

    def case(self, classname: str, name: str, seconds: float | None = None) -> ET.Element:
        self.counts["tests"] += 1
        self.seconds += seconds or 0.0
        return ET.SubElement(self.element, "testcase", classname=_text(classname),
                             name=_text(name), time=f"{seconds or 0.0:.3f}")

    def outcome(self, case: ET.Element, kind: str, message: str, text: str,
                type_: str | None = None) -> None:
        key = {"failure": "failures", "error": "errors", "skipped": "skipped"}[kind]
        self.counts[key] += 1
        element = ET.SubElement(case, kind, message=_text(message[:500]))
        if type_:
            element.set("type", _text(type_))
        if text:
            element.text = _text(text)

    def close(self) -> dict[str, int]:
        for key, count in self.counts.items():
            self.element.set(key, str(count))
        self.element.set("time", f"{self.seconds:.3f}")
        return self.counts


def _notes(evaluation: Evaluation) -> str:
    lines = [f"ACCEPTED {gap['title']}\n  {how}" for gap, how in evaluation.accepted]
    lines += [f"ADVISORY [{a['severity']}] {a['title']}: {a['detail']}"
              for a in evaluation.advisories]
    return "\n".join(lines)


def _check(suite: _Suite, classname: str, evaluation: Evaluation) -> None:
    case = suite.case(classname, evaluation.name, evaluation.seconds)
    if evaluation.status == "FAIL":
        first = evaluation.gaps[0]
        more = f" (and {len(evaluation.gaps) - 1} more)" if len(evaluation.gaps) > 1 else ""
        suite.outcome(case, "failure", first["title"] + more, _gap_text(evaluation.gaps),
                      first["code"])
    elif evaluation.status == "NOT_ASSESSED":
        suite.outcome(case, "error", f"not assessed: {evaluation.reason}",
                      "Nothing was seen here, so no verdict is claimed: give the scanning "
                      "role sight of it (an SCP or IAM denial is the usual cause), or exclude "
                      "it with its reason.", "NotAssessed")
    elif evaluation.status == "SKIPPED":
        suite.outcome(case, "skipped", evaluation.reason, "")
    notes = _notes(evaluation)
    if notes:
        ET.SubElement(case, "system-out").text = _text(notes)


def _members(suite: _Suite, document: ScanDocument) -> None:
    view = document.get("member_view")
    if view is None:
        return
    remediation = view.get("remediation")
    for account in view["accounts"]:
        outcome = member_outcome(account["status"], account["regions"].values())
        case = suite.case("aa-scan.member-accounts", f"{account['account_id']} "
                          f"({account['name']})")
        failing = sorted(r for r, c in account["regions"].items() if c == "FAIL")
        unread = sorted(r for r, c in account["regions"].items() if c == "ERROR")
        if outcome == "FAIL":
            fix = "\n".join(remediation["commands"]) if remediation else ""
            suite.outcome(case, "failure", "no ACTIVE external access analyzer of its own "
                          f"in {', '.join(failing)}", f"Fix:\n{fix}" if fix else "",
                          "MEMBER_NO_ANALYZER")
        elif outcome == "ERROR":
            error = account["error"]
            why = (f"{error['code']}: {error['message']}" if error
                   else "could not be read in " + ", ".join(unread))
            suite.outcome(case, "error", f"not assessed: {why}", "", "NotAssessed")
        elif outcome in ("SUSPENDED", "NO REGION"):
            suite.outcome(case, "skipped", "suspended" if outcome == "SUSPENDED"
                          else "no enabled region examined", "")


def junit_tree(document: ScanDocument) -> ET.ElementTree[ET.Element]:
    """The document's checks as a JUnit <testsuites> tree."""
    scope = document["organization"]["id"] or document["identity"]["account_id"]
    started = document["started_at"]
    root = ET.Element("testsuites", name=_text(f"aa-scan {scope}"))
    organization = _Suite(root, f"aa-scan organization checks ({scope})", started)
    regions = _Suite(root, f"aa-scan regions ({scope}, from account "
                           f"{document['identity']['account_id']})", started)
    for evaluation in evaluations(document):
        if evaluation.kind == "organization":
            _check(organization, "aa-scan.organization", evaluation)
        elif evaluation.kind == "region":
            _check(regions, "aa-scan.regions", evaluation)
    suites = [organization, regions]
    if document.get("member_view") is not None:
        members = _Suite(root, f"aa-scan member accounts ({scope})", started)
        _members(members, document)
        suites.append(members)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = sum(suite.seconds for suite in suites)
    for suite in suites:
        for key, count in suite.close().items():
            totals[key] += count
    for key, count in totals.items():
        root.set(key, str(count))
    root.set("time", f"{seconds:.3f}")
    tree: ET.ElementTree[ET.Element] = ET.ElementTree(root)
    ET.indent(tree)
    return tree


def write_junit(document: ScanDocument, directory: Path, *,
                integrity: Integrity | None = None) -> Path:
    """Write directory/junit.xml atomically."""
    tree = junit_tree(document)

    def write(stream: IO[bytes]) -> None:
        tree.write(stream, encoding="utf-8", xml_declaration=True)

    return write_atomic(directory / FILE_NAME, write)
