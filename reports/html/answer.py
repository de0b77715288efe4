"""The first page of report.html answers first: under the verdict, the controls in one row
(with the reading each rests on), the member view's result, every open gap by its title with
its severity and a one-line fix, and every region not assessed with its reason and what
makes the next run complete. Also the outline: the sections in order, numbered once, from
which both the Contents and the headings take their numbers."""

from __future__ import annotations

from typing import Any

from reports.document.derive import derived_of
from reports.document.schema import ControlAnswer, ScanDocument

from .overview import by_severity

# How the controls row names each control: short, with the versions it covers.
SHORT_FRAMEWORKS = {"CIS AWS Foundations Benchmark": "CIS", "AWS Security Hub": "Security Hub",
                    "AWS Config managed rule": "AWS Config"}


def _short(answer: ControlAnswer) -> str:
    framework = SHORT_FRAMEWORKS.get(answer["framework"], answer["framework"])
    if answer["framework"] == "AWS Config managed rule":
        return f"{framework} rule"
    return f"{framework} {answer['id']}"


def _versions(text: str) -> str:
    """"1.4.0, 1.5.0, 2.0.0" as "v1.4.0-2.0.0"; one version as itself; none as nothing."""
    versions = [v for v in text.split(", ") if v]
    if not versions:
        return ""
    return f"v{versions[0]}" if len(versions) == 1 else f"v{versions[0]}–{versions[-1]}"


def _first_line(command: str) -> tuple[str, int]:
    """The first line of a fix, and how many more it has."""
    lines = [line for line in command.strip().splitlines() if line.strip()]
    return (lines[0] if lines else ""), max(0, len(lines) - 1)


def answer(document: ScanDocument) -> dict[str, Any]:
    """What the first page says under the verdict."""
    answers = derived_of(document)["control_answers"] or []
    readings = list(dict.fromkeys(a.get("reading", "") for a in answers))
    controls = [{"key": a["key"], "name": _short(a), "versions": _versions(a["versions"]),
                 "status": a["status"], "tone": a["tone"], "reading": a.get("reading", "")}
                for a in answers]
    view = document.get("member_view")
    members = None
    if view is not None:
        counts = view["summary"]
        members = {"accounts": counts["accounts"], "pass": counts["pass"],
                   "fail": counts["fail"], "error": counts["error"],
                   "tone": "bad" if counts["fail"] else "warn" if counts["error"] else "ok"}
    gaps = []
    # The same order as the Gaps section's cards, whose anchors these link to.
    for index, entry in enumerate(by_severity(
            g for g in document["gaps"] if "exception" not in g), start=1):
        first, more = _first_line(entry["command"])
        gaps.append({**entry, "anchor": f"gap-{index}", "fix": first, "more": more})
    held = []
    for region in document["regions"]:
        if region["status"] != "ERROR":
            continue
        error = region["error"]
        first, more = _first_line(region.get("remediation", ""))
        held.append({"region": region["region"], "reason": region["reason"] or "",
                     "detail": region["detail"], "fix": first, "more": more,
                     "command": region.get("remediation", ""),
                     "note": region.get("remediation_note", ""),
                     "code": error["code"] if error else ""})
    return {"controls": controls, "reading": readings[0] if len(readings) == 1 else "",
            "members": members, "gaps": gaps, "not_assessed": held}


def outline(context: dict[str, Any]) -> list[dict[str, Any]]:
    """The sections of the page in order, each with its number (appendices lettered): the
    one source of the Contents and of every heading's number."""
    changes, trend = context["changes"], context["trend"]
    accepted = context["accepted"]
    sections: list[dict[str, Any]] = []

    def add(key: str, title: str, note: str = "", appendix: bool = False) -> None:
        sections.append({"key": key, "title": title, "note": note, "appendix": appendix})

    if changes or trend:
        add("changes", f"What changed since {changes['since']}"
            if changes and not changes.get("first") else "What changed")
    add("controls", "Controls", f"{len(context['controls'])}" if context["controls"] else "")
    add("organization", "Organization integration")
    add("gaps", "Gaps and remediation", f"{len(context['gaps'])}")
    add("accepted", "Accepted risk",
        f"{len(accepted['register'])} exception{'s' if len(accepted['register']) != 1 else ''}"
        if accepted["configured"] else "")
    add("regions", "Region coverage", f"{len(context['regions'])} regions")
    add("matrix", "Findings by region and resource type")
    add("accounts", "Findings by account")
    if context["members"]:
        add("members", "Member accounts: the per-account view of IAM.28",
            f"{context['members']['total']}")
    add("findings", "Findings detail")
    if context["internal"]:
        add("internal-access", "Internal access")
    if context["unused"]:
        add("unused-access", "Unused access")
    add("errors", "Errors", f"{len(context['errors'])}")
    add("scan-details", "Scan details and configuration", appendix=True)
    if context["controls"]:
        add("provenance", "Where the control mapping was checked", appendix=True)
    number, letter = 0, 0
    for section in sections:
        if section["appendix"]:
            section["no"] = "ABCDEFGH"[letter]
            letter += 1
        else:
            number += 1
            section["no"] = str(number)
    return sections
