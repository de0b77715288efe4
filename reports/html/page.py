"""The page itself: the jinja2 environment, everything the template shows (`context`), and
report.html written atomically."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import IO, Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from reports.document.derive import derived_of
from reports.document.pack import Integrity
from reports.document.rules import ANALYSIS_LABELS, Analysis
from reports.document.schema import ScanDocument

from ..files import write_atomic
from ..tables import errors, parse_time, setting
from . import accepted, answer, changes, findings, overview, regions
from .display import number, visible, when

FILE_NAME = "report.html"
TEMPLATE = "report.html"
MAX_ROWS_PER_TYPE = 200
_CSS_SAFE = re.compile(r"[^A-Za-z0-9 :.,_-]")


@cache
def environment() -> Environment:
    """The jinja2 environment of the page: autoescaped, strict, every value through
    `visible`."""
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=True,
                      undefined=StrictUndefined, finalize=visible, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = number
    return env


def _integrity(integrity: Integrity | None) -> list[dict[str, Any]] | None:
    """The integrity box: identifiers and commands in a fixed-width font, sentences not."""
    if integrity is None:
        return None
    return [{"item": item, "value": value, "mono": " " not in value or value.startswith("aa-scan ")}
            for item, value in integrity.rows()]


def _setting(key: str, value: Any) -> str:
    """A configuration value on one line; the exceptions are the Accepted risk section's."""
    if key == "exceptions" and isinstance(value, list):
        return (f"{len(value)} exception{'s' if len(value) != 1 else ''} (see Accepted risk)"
                if value else "none")
    if key == "exceptions_file" and isinstance(value, dict):
        return f"{value.get('path')} (SHA-256 {value.get('sha256')})"
    return setting(value)


def context(document: ScanDocument, max_rows_per_type: int = MAX_ROWS_PER_TYPE,
            integrity: Integrity | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain values (no markup). `integrity`: the pack
    this page is written into (None: a page on its own, beside its scan.json)."""
    has_scan_json = integrity is None or integrity.has_scan_json
    scan = overview.scan_facts(document)
    region_rows = regions.region_rows(document)
    started = parse_time(document["started_at"])
    footer = f"{scan['organization_id']} · {when(document['started_at'])}"
    found = {
        "verdict": overview.verdict(document),
        "figures": overview.figures(document),
        "scope": overview.scope_statement(document),
        "controls": derived_of(document)["control_answers"],
        "changes": changes.since_baseline(document),
        "trend": changes.trend(document),
        "ages": changes.ages(document),
        "scan": scan,
        "configuration": [{"key": str(k), "value": _setting(str(k), v)}
                          for k, v in document["configuration"].items()],
        "organization": overview.organization(document),
        "gaps": overview.by_severity(g for g in document["gaps"] if "exception" not in g),
        "accepted": accepted.accepted_risk(document),
        "regions": region_rows,
        "status_counts": regions.status_counts(region_rows),
        "archive_rules": regions.archive_rules(document),
        "matrix": regions.matrix(document, [r["region"] for r in region_rows]),
        "accounts": regions.accounts(document),
        "members": regions.members(document),
        "findings": findings.detail(document, max_rows_per_type),
        "internal": findings.internal(document, max_rows_per_type),
        "unused": findings.unused(document, max_rows_per_type),
        "unknown_label": ANALYSIS_LABELS[Analysis.UNKNOWN],
        "errors": errors(document),
        "coverage_only": document["summary"]["coverage_only"],
        "integrity": _integrity(integrity),
        "has_scan_json": has_scan_json,
        "record": "scan.json" if has_scan_json else "the workbook",
        "title": f"IAM Access Analyzer coverage — {scan['organization_id']}"
                 + (f" — {started:%Y-%m-%d}" if started else ""),
        # Goes into a CSS string (the printed page footer): letters, digits, a few marks.
        "footer": _CSS_SAFE.sub("", footer.replace("·", "-"))[:80],
        "answer": answer.answer(document),
    }
    sections = answer.outline(found)
    # One numbering for the Contents and the headings (section key -> "3", or "A").
    return {**found, "sections": sections, "no": {s["key"]: s["no"] for s in sections}}


def render(document: ScanDocument, max_rows_per_type: int = MAX_ROWS_PER_TYPE,
           integrity: Integrity | None = None) -> Iterable[str]:
    """The page, in chunks."""
    template = environment().get_template(TEMPLATE)
    return template.generate(context(document, max_rows_per_type, integrity))


def write_html(document: ScanDocument, directory: Path, *,
               max_rows_per_type: int = MAX_ROWS_PER_TYPE,
               integrity: Integrity | None = None) -> Path:
    """Write directory/report.html atomically: complete, or not there at all."""

    def write(stream: IO[bytes]) -> None:
        buffer: list[str] = []
        size = 0
        for chunk in render(document, max_rows_per_type, integrity):
            buffer.append(chunk)
            size += len(chunk)
            if size > 1 << 16:
                stream.write("".join(buffer).encode("utf-8"))
                buffer, size = [], 0
        stream.write("".join(buffer).encode("utf-8"))

    return write_atomic(directory / FILE_NAME, write)
