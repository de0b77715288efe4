"""Which published controls a scan is evidence for, and how a scan document answers each.

The mapping is data, in controls.json beside this module: every control's framework, number,
versions and title, what it requires, the gap codes that bear on it, and the pages each fact
was checked against (with what could not be checked, said so). Code here only reads it: the
scanner asks which controls a gap or the verdict carries, the reports ask how a document
answers each control.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from reports.document.rules import member_outcome
from reports.document.schema import (
    ControlAnswer,
    ControlRef,
    ControlStatus,
    Gap,
    Region,
    ScanDocument,
    Tone,
)

DATA_FILE = "controls.json"
# Region statuses (document.rules.RegionStatus) a scan assessed: it proves coverage or a gap.
ASSESSED = frozenset({"COVERED", "GAP"})
LISTED_GAPS = 8  # gaps named in an answer; the rest are counted


@dataclass(frozen=True)
class Source:
    """A page a control's mapping was checked against, and what it confirms."""

    url: str
    publisher: str
    says: str
    confirms: tuple[str, ...]


@dataclass(frozen=True)
class Control:
    """One control of the mapping, in all the versions of its framework that number it so."""

    key: str
    framework: str
    id: str
    versions: tuple[str | None, ...]  # None: the framework does not version its controls
    title: str
    requires: str
    evaluated: str
    per_account_note: str  # set for controls AWS evaluates in each account on its own
    gap_codes: frozenset[str]
    sources: tuple[Source, ...]
    unconfirmed: str

    def refs(self) -> list[ControlRef]:
        """The control as scan.json cites it: one reference per version."""
        return [{"framework": self.framework, "version": version, "id": self.id,
                 "title": self.title} for version in self.versions]

    def cited_by(self, refs: Iterable[ControlRef]) -> bool:
        """Whether any of `refs` cites this control (any version)."""
        return any(r["framework"] == self.framework and r["id"] == self.id for r in refs)


@dataclass(frozen=True)
class ControlMapping:
    """The whole of controls.json: the controls, and the analyzer types and gap codes they read."""

    controls: tuple[Control, ...]
    external_access_types: frozenset[str]
    not_assessed_codes: frozenset[str]


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{DATA_FILE}: {entry.get('key', '?')}: {key} must be text")
    return value


def _control(entry: Mapping[str, Any]) -> Control:
    return Control(
        key=_text(entry, "key"), framework=_text(entry, "framework"), id=_text(entry, "id"),
        versions=tuple(entry["versions"]), title=_text(entry, "title"),
        requires=_text(entry, "requires"), evaluated=_text(entry, "evaluated"),
        per_account_note=_text(entry, "per_account_note"),
        gap_codes=frozenset(entry["gap_codes"]),
        sources=tuple(Source(url=_text(s, "url"), publisher=_text(s, "publisher"),
                             says=_text(s, "says"), confirms=tuple(s["confirms"]))
                      for s in entry["sources"]),
        unconfirmed=_text(entry, "unconfirmed"))


@cache
def mapping() -> ControlMapping:
    """The mapping in controls.json (read once; a broken file is a defect, not user input)."""
    raw: dict[str, Any] = json.loads(
        (resources.files("reports.document") / DATA_FILE).read_text("utf-8"))
    return ControlMapping(controls=tuple(_control(c) for c in raw["controls"]),
                          external_access_types=frozenset(raw["external_access_types"]),
                          not_assessed_codes=frozenset(raw["not_assessed_codes"]))


def controls_for_gap(code: str, analyzer_type: str | None = None) -> list[ControlRef]:
    """The controls a gap bears on. A gap about one analyzer type bears on them only when
    that type analyzes external access (an unused-access analyzer is beyond all of them)."""
    found = mapping()
    if analyzer_type is not None and analyzer_type not in found.external_access_types:
        return []
    return [ref for control in found.controls if code in control.gap_codes
            for ref in control.refs()]


def verdict_controls() -> list[ControlRef]:
    """The controls the overall verdict is evidence for: every control of the mapping."""
    return [ref for control in mapping().controls for ref in control.refs()]


# -- how a document answers each control ------------------------------------------------------


def _where(gap: Gap) -> str:
    return f"{gap['region'] or 'organization'}: {gap['code']}"


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:LISTED_GAPS])
    more = len(items) - LISTED_GAPS
    return shown + (f" and {more} more" if more > 0 else "")


def _external_owned(region: Region, types: frozenset[str]) -> bool:
    """An ACTIVE external access analyzer in the region's list (ListAnalyzers lists the
    scanning account's own analyzers)."""
    return any(a["type"] in types and a["status"] == "ACTIVE" for a in region["analyzers"])


def _member_view(document: ScanDocument) -> dict[str, Any] | None:
    """What the member view (--member-accounts) says of each account's own analyzers."""
    view = document.get("member_view")
    if view is None:
        return None
    outcomes = [(a["account_id"], member_outcome(a["status"], a["regions"].values()))
                for a in view["accounts"]]
    failing = [account for account, outcome in outcomes if outcome == "FAIL"]
    open_ = [account for account, outcome in outcomes if outcome == "ERROR"]
    counts = view["summary"]
    error = view.get("error")
    if error:
        # The accounts could not be listed: no per-account reading was taken at all.
        message = " ".join(error["message"].split())
        message = message if len(message) <= 160 else message[:160].rsplit(" ", 1)[0] + " …"
        return {"text": f"the member view could not list the accounts ({error['code']}: "
                        f"{message}), so no account was examined.",
                "fail": False, "open": True, "accounts": 0, "error": error["code"]}
    text = (f"the member view lists each account's own analyzers: {counts['pass']} of "
            f"{counts['accounts']} account(s) pass in every region examined, "
            f"{counts['fail']} fail")
    text += (" (" + _listed(failing) + ")" if failing else "") + f", {counts['error']} could "
    text += "not be examined" + (" (" + _listed(open_) + ")." if open_ else ".")
    return {"text": text, "fail": bool(failing), "open": bool(open_),
            "accounts": counts["accounts"], "error": ""}


def assess(document: ScanDocument) -> list[ControlAnswer] | None:
    """How the document answers each control; None for a document written before aa-scan
    mapped gaps to controls (its gaps carry no `controls` to answer with)."""
    if "controls" not in document["summary"]:
        return None
    found = mapping()
    regions = document["regions"]
    assessed = [r for r in regions if r["status"] in ASSESSED]
    with_organization = [r for r in assessed if any(
        a["type"] == "ORGANIZATION" and a["status"] == "ACTIVE" for a in r["analyzers"])]
    owned = [r for r in assessed if _external_owned(r, found.external_access_types)]
    not_assessed = [r["region"] for r in regions if r["status"] == "ERROR"]
    excluded = [f"{r['region']} ({r['reason'] or 'no reason given'})" for r in regions
                if r["status"] == "EXCLUDED"]
    enabled = [r for r in regions if r["status"] != "NOT_ENABLED"]
    complete = document["summary"]["complete"]
    org = document["organization"]
    account = document["identity"]["account_id"]
    role = org["scanning_account_role"].replace("_", " ").lower()
    accounts = org["accounts"]
    members = (f"the organization's {len(accounts) - 1} other account(s)" if accounts
               else "the organization's other accounts")
    answers: list[ControlAnswer] = []
    for control in found.controls:
        related = [g for g in document["gaps"] if control.cited_by(g.get("controls", []))]
        against = [g for g in related if g["code"] not in found.not_assessed_codes]
        blocking = [g for g in related if g["code"] in found.not_assessed_codes]
        status: ControlStatus
        tone: Tone
        if against:
            status, tone = "Not met", "bad"
        elif blocking or not complete or not assessed:
            status, tone = "Not determined", "warn"
        else:
            status, tone = "Met", "ok"
        answer = [f"{len(enabled)} region(s) listed as enabled; {len(assessed)} assessed, "
                  f"{len(with_organization)} of them with an ACTIVE analyzer whose zone of "
                  "trust is the organization."]
        if against:
            answer.append(f"{len(against)} gap(s) against it: "
                          + _listed([_where(g) for g in against]) + ".")
            accepted = [g for g in against if "exception" in g]
            if accepted:
                # Accepted risk is the organization's decision, not the control's: it is
                # still not met there, and the answer says who accepted it until when.
                answer.append(f"{len(accepted)} of them accepted by exceptions (see Accepted "
                              "risk), so the control is not met there by decision: "
                              + _listed([f"{_where(g)} until {g['exception']['expires']}"
                                         for g in accepted if "exception" in g]) + ".")
        if blocking:
            answer.append("Not determined where the scan ran from: "
                          + _listed([_where(g) for g in blocking]) + ".")
        if not_assessed:
            answer.append("Not assessed, no evidence either way: " + _listed(not_assessed)
                          + ".")
        if excluded:
            answer.append("Excluded by the configuration, outside this evidence: "
                          + _listed(excluded) + ".")
        if not complete and not blocking and not not_assessed:
            answer.append("The scan is incomplete (see the verdict), so a pass is not "
                          "claimed.")
        per_account = []
        view = _member_view(document)
        # Every control of the mapping is evaluated account by account: with the member view,
        # its status follows the per-account result; without it, the answer says it rests on
        # the organization-wide analysis alone.
        if view and view.get("error"):
            reading = ("organization-wide analysis; the per-account reading failed: the member "
                       f"view could not list the accounts ({view['error']})")
            if status == "Met":
                status, tone = "Not determined", "warn"
        elif view:
            reading = (f"per account: the member view (--member-accounts) of "
                       f"{view['accounts']} account(s)")
            if view["fail"]:
                status, tone = "Not met", "bad"
            elif view["open"] and status == "Met":
                status, tone = "Not determined", "warn"
        else:
            reading = ("organization-wide analysis; per-account evaluation not run "
                       "(--member-accounts)")
        if control.per_account_note:
            listed = (view["text"] if view else "this scan does not list those "
                      "(--member-accounts does).")
            per_account.append(
                f"Evaluated in each account separately: an organization analyzer in account "
                f"{account} (the {role}) does not make this control pass in {members}; each "
                f"needs an external access analyzer of its own in every region; {listed} "
                f"{control.per_account_note}")
            per_account.append(f"In account {account} itself: {len(owned)} of {len(assessed)} "
                               "assessed region(s) have an ACTIVE external access analyzer it "
                               "owns.")
        else:
            per_account.append(
                "Audited account by account, the benchmark lists each account's own analyzers; "
                "the organization-wide analysis proves something else: an ACTIVE organization "
                "analyzer in a region analyzes the resources of every account of the "
                "organization there." + ("" if view else " The per-account reading was not "
                                         "taken (--member-accounts takes it)."))
            if view:
                per_account.append(f"Account by account: {view['text']}")
        versions = ", ".join(v for v in control.versions if v is not None)
        answers.append({
            "key": control.key, "framework": control.framework, "id": control.id,
            "title": control.title, "versions": versions, "requires": control.requires,
            "evaluated": control.evaluated, "status": status, "tone": tone,
            "answer": answer, "per_account": per_account, "reading": reading,
            "sources": [{"url": s.url, "publisher": s.publisher, "says": s.says}
                        for s in control.sources],
            "unconfirmed": control.unconfirmed})
    return answers
