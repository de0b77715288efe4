"""The first page of report.html answers first: under the verdict, the controls in one row
(with the reading each rests on), the member view's result, every open gap by its title with
its severity and a one-line fix, and every region not assessed with its reason and what
makes the next run complete. Also the outline: the sections in order, numbered once, from
which both the Contents and the headings take their numbers."""

from __future__ import annotations

import shlex
from typing import Any

from reports.document.derive import derived_of
from reports.document.schema import ControlAnswer, ScanDocument

from ..tables import SEVERITY_ORDER
from .overview import gap_entry

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


# Page 1 lists at most this many gap titles and region groups; past them it says how many
# more there are and where (never a list that just stops at the foot of page 2).
GAP_TITLES = 12
REGION_GROUPS = 8
# A region's detail (an AWS error message can be thousands of characters, or a proxy's HTML
# page) is shortened on page 1; the whole text is in Region coverage, Errors and scan.json.
DETAIL_CHARS = 220
# How a region's fix marks the configuration excerpt that follows its command
# (scanner/judge/text.py _EXCLUDE): page 1 shows that excerpt apart, as YAML.
EXCLUDE_MARKER = "# or, if the region is blocked on purpose, in config/regions.yaml:"


def shorten(text: str, limit: int = DETAIL_CHARS) -> str:
    """`text` cut at a word before `limit` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def _template(command: str, region: str | None) -> str:
    """A fix with its region as "$region", so fixes that differ only there group."""
    if not region:
        return command
    return command.replace(shlex.quote(region), '"$region"')


def _loop(template: str, regions: list[str]) -> str:
    """One command for every region of a group: the fix in a loop over the regions."""
    words = " ".join(shlex.quote(r) for r in regions)
    return f"for region in {words}; do {template.strip()}; done"


def _gap_groups(document: ScanDocument) -> tuple[list[dict[str, Any]], int, int]:
    """The open gaps, most severe first, with gaps of one kind whose fixes differ only by
    region in one row (one fix: a loop over the regions); at most GAP_TITLES titles in all.
    Also how many gaps there are and how many titles are not shown."""
    open_gaps = [g for g in document["gaps"] if "exception" not in g]
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    ordered = sorted(enumerate(open_gaps),
                     key=lambda p: (rank.get(p[1]["severity"], len(rank)), p[0]))
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    # The same order as the Gaps section's cards, whose anchors these link to.
    for index, (_, gap) in enumerate(ordered, start=1):
        entry = {**gap_entry(gap), "anchor": f"gap-{index}", "region": gap["region"]}
        template = _template(entry["command"], gap["region"])
        # Grouped: one-line fixes that differ only by region, with the same note (a
        # multi-line fix, such as a re-create that keeps archive rules, stays one a row).
        alike = bool(gap["region"]) and template != entry["command"] and "\n" not in template
        key = (gap["severity"], gap["code"],
               template + " | " + entry["note"].replace(gap["region"] or "", "{region}")
               if alike else f"#{index}")
        group = groups.setdefault(key, {**entry, "template": template, "items": []})
        group["items"].append(entry)
    rows, shown = [], 0
    for group in groups.values():
        items = group["items"]
        room = max(0, GAP_TITLES - shown)
        command = (_loop(group["template"], [i["region"] for i in items]) if len(items) > 1
                   else group["command"])
        first, more = _first_line(command)
        rows.append({**group, "items": items[:room], "hidden": len(items) - min(room, len(items)),
                     "count": len(items), "fix": first, "more": more, "whole": command})
        shown += min(room, len(items))
    return rows, len(open_gaps), len(open_gaps) - shown


def _split_fix(command: str) -> tuple[str, str]:
    """A region's fix as (the shell command, the config/regions.yaml excerpt)."""
    if EXCLUDE_MARKER not in command:
        return command.strip(), ""
    shell, config = command.split(EXCLUDE_MARKER, 1)
    return shell.strip(), config.strip("\n")


def _region_groups(document: ScanDocument) -> tuple[list[dict[str, Any]], int]:
    """The regions not assessed, those whose fixes differ only by region in one group: one
    command (a loop where the region is in it) and one exclude: block naming every region of
    the group. Also how many regions are not assessed."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    total = 0
    for region in document["regions"]:
        if region["status"] != "ERROR":
            continue
        total += 1
        name = region["region"]
        error = region["error"]
        shell, config = _split_fix(region.get("remediation", ""))
        note = region.get("remediation_note", "")
        key = (region["reason"] or "", _template(shell, name), note.replace(name, "{region}"))
        group = groups.setdefault(key, {"reason": region["reason"] or "",
                                        "code": error["code"] if error else "",
                                        "regions": [], "details": [], "config": [],
                                        "shell": shell, "note": note})
        group["regions"].append(name)
        group["details"].append(shorten(region["detail"]))
        group["config"].append(config)
    rows = []
    for (_, template, note), group in groups.items():
        regions = group["regions"]
        many = len(regions) > 1
        command = group["shell"]
        if many and template != group["shell"]:
            command = _loop(template, regions)
        config = ""
        if any(group["config"]):
            lines = [line for block in group["config"] for line in block.splitlines()
                     if line.strip() and line.strip() != "exclude:"]
            config = "exclude:\n" + "\n".join(lines)
        details = list(dict.fromkeys(group["details"]))
        rows.append({**group, "command": command, "config": config,
                     "detail": details[0] if len(details) == 1 else "",
                     "each": [] if len(details) == 1 else list(zip(regions, group["details"],
                                                                    strict=True)),
                     "note": note.replace("{region}", ", ".join(regions)) if many
                     else group["note"]})
    return rows, total


def _nothing_assessed(document: ScanDocument) -> dict[str, Any] | None:
    """When no region was assessed: what was not, and what makes the next run assess some."""
    regions = document["regions"]
    if any(r["status"] in ("COVERED", "GAP") for r in regions):
        return None
    count = {status: sum(r["status"] == status for r in regions)
             for status in ("EXCLUDED", "NOT_ENABLED", "ERROR")}
    return {"excluded": count["EXCLUDED"], "not_enabled": count["NOT_ENABLED"],
            "errors": count["ERROR"], "scanned": len(regions)}


def _members(document: ScanDocument) -> dict[str, Any] | None:
    """The member view's line on page 1: its counts, or why it could not list the accounts,
    and its first fix line."""
    view = document.get("member_view")
    if view is None:
        return None
    counts = view["summary"]
    error = view.get("error")
    fix = view.get("remediation")
    commands = list(fix["commands"]) if fix else []
    return {"accounts": counts["accounts"], "pass": counts["pass"], "fail": counts["fail"],
            "error": counts["error"],
            "failed": (f"{error['code']}: {shorten(error['message'], 160)}" if error else ""),
            "tone": ("warn" if error else "bad" if counts["fail"] else
                     "warn" if counts["error"] else "ok"),
            "fix": commands[0] if commands else "", "more": max(0, len(commands) - 1)}


def answer(document: ScanDocument) -> dict[str, Any]:
    """What the first page says under the verdict."""
    answers = derived_of(document)["control_answers"] or []
    readings = list(dict.fromkeys(a.get("reading", "") for a in answers))
    controls = [{"key": a["key"], "name": _short(a), "versions": _versions(a["versions"]),
                 "status": a["status"], "tone": a["tone"], "reading": a.get("reading", "")}
                for a in answers]
    gaps, gap_total, gaps_hidden = _gap_groups(document)
    held, held_total = _region_groups(document)
    shown = held[:REGION_GROUPS]
    return {"controls": controls, "reading": readings[0] if len(readings) == 1 else "",
            "members": _members(document), "gaps": gaps, "gap_total": gap_total,
            "gaps_hidden": gaps_hidden, "not_assessed": shown, "not_assessed_total": held_total,
            "regions_hidden": sum(len(g["regions"]) for g in held[REGION_GROUPS:]),
            "nothing_assessed": _nothing_assessed(document)}


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
