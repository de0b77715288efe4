"""The sheets of the audit trail: what changed since the baseline (Changes), the trend over
the recorded runs (Trend, with its charts) and the age of the active findings (Finding
age)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reports.document.rules import type_label
from reports.document.schema import ScanDocument
from reports.document.trail import Changes

from .. import tables
from .writer import DATE_FORMAT, TOTAL, Book, Column, Sheet, Styled, Table, status_style

CHANGES = Table("Changes", [Column("Change", 20), Column("Region", 16), Column("What", 50),
                            Column("Before", 28), Column("After", 28), Column("Detail", 54)],
                fit_width=True)
AGES = Table("Finding age", [Column("Resource type", 28), Column("Under 7 days", 10),
                             Column("7-30 days", 10), Column("30-90 days", 10),
                             Column("Over 90 days", 10), Column("Resolved", 10),
                             Column("Median days to resolve", 12),
                             Column("90th percentile days to resolve", 14)], fit_width=True)


CHART_WIDTH, CHART_HEIGHT, CHART_ROWS = 540, 283, 16  # pixels; rows of 20 px, with a gap


def _trend_charts(book: Book, ws: Sheet, rows: int) -> None:
    """Native line charts over the Trend sheet's own cells (Excel and LibreOffice draw them),
    one under the other below the table, no wider than its first four columns, so the sheet
    prints one page wide at the table's own scale."""
    sheet = ws.get_name()
    for number, (title, columns, axis) in enumerate((
            ("Regions covered", (5, 5), "regions"),
            ("Active and public findings", (8, 9), "findings"))):
        chart = book.add_chart({"type": "line"})
        for column in range(columns[0], columns[1] + 1):
            chart.add_series({
                "name": [sheet, 0, column],
                "categories": [sheet, 1, 1, rows, 1],
                "values": [sheet, 1, column, rows, column],
                # a run is a point, not a curve through it
                "marker": {"type": "circle", "size": 5}, "smooth": False})
        chart.set_title({"name": title})
        chart.set_y_axis({"name": axis, "min": 0})
        # One category per run, labelled with its start: a date axis would put the runs of
        # one day on one point.
        chart.set_x_axis({"text_axis": True, "num_format": DATE_FORMAT})
        chart.set_size({"width": CHART_WIDTH, "height": CHART_HEIGHT})
        ws.insert_chart(rows + 2 + number * CHART_ROWS, 0, chart)


TREND = Table("Trend", [Column("Run", 34), Column("Started (UTC)", 20), Column("Verdict", 16),
                        Column("Complete", 9), Column("Regions", 9), Column("Covered", 9),
                        Column("Gaps", 8), Column("Not assessed", 10), Column("Active", 10),
                        Column("Public", 10)], cell_style=None, fit_width=True,
              charts=_trend_charts)


def _register_rows(found: Changes) -> Iterator[list[Any]]:
    """The exceptions added, removed, expired and changed, and what they no longer
    accept (counted again: the new-* gates count it)."""
    register = found.get("exceptions")
    if register is None:
        return
    for kind, label, entries in (
            ("added", "Exception added", register["added"]),
            ("removed", "Exception removed", register["removed"]),
            ("expired", "Exception expired", register["expired"]),
            ("changed", "Exception changed", register["changed"])):
        for entry in entries:
            before = "; ".join(f"{k.removesuffix('_before')}: {v}" for k, v in entry.items()
                               if k.endswith("_before")) or None
            yield [Styled(label, status_style("GAP") if kind == "expired" else None), None,
                   entry["key"], before, f"until {entry['expires']}",
                   f"{entry['owner']}" + (f", {entry['ticket']}" if entry["ticket"] else "")]
    for gap in register["gaps_no_longer_accepted"]:
        yield [Styled("Gap no longer accepted", status_style("GAP")),
               gap["region"] or "organization", gap["title"], gap.get("exception"), None,
               gap["code"]]
    for lost in register["findings_no_longer_accepted"]:
        yield [Styled("Finding no longer accepted", status_style("GAP") if lost["is_public"]
                      else None), lost["region"], lost["resource"], lost.get("exception"),
               None, f"{type_label(lost['resource_type'])}; finding {lost['id']}"]


def change_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The Changes sheet: the baseline, then every gap, region and finding that changed."""
    found = document.get("changes")
    if found is None:
        yield ["Not compared", None, "This run was not compared with an earlier one "
               "(written without the history, or before aa-scan kept one).", None, None, None]
        return
    baseline = found["baseline"]
    problem = found.get("history_error")
    if baseline is None:
        if problem:
            yield [Styled("Not compared", status_style("ERROR")), None,
                   "The history could not be used: nothing was compared, and the new-gaps "
                   "and new-public gates count every gap and public finding as new.", None,
                   None, problem]
            return
        yield ["First recorded run", None, "Nothing to compare with yet: the next run will "
               "show what changed since this one.", None, None, None]
        return
    started = baseline["started_at"].replace("T", " ").replace("Z", " UTC")
    yield ["Baseline", None, f"run {baseline['run_id']}, started {started}", None, None,
           "from the history" if baseline["source"] == "history" else "the baseline file given"]
    for gap in found["gaps_opened"]:
        # An accepted one is listed as accepted, not as a plain new gap (the gates skip it).
        yield [Styled("Gap opened", status_style("GAP")), gap["region"] or "organization",
               gap["title"], None, gap["code"], gap["severity"] + _accepted(gap.get("exception"))]
    for moved in found.get("gaps_changed", []):
        yield [Styled("Gap more severe" if moved["escalated"] else "Gap changed",
                      status_style("GAP") if moved["escalated"] else None),
               moved["region"] or "organization", moved["title"],
               f"{moved['severity_before']}: {moved['title_before']}", moved["severity"],
               moved["code"]]
    for gap in found["gaps_closed"]:
        yield [Styled("Gap closed", status_style("COVERED")), gap["region"] or "organization",
               gap["title"], gap["code"], None, gap["severity"]]
    for region in found["regions"]:
        yield ["Region status", region["region"], None, region["before"] or "not listed",
               region["after"] or "not listed",
               "; ".join(r for r in (region["before_reason"], region["after_reason"]) if r)
               or None]
    for new in found["findings_new"]:
        kind = "New public finding" if new["is_public"] else "New finding"
        yield [Styled(kind, status_style("GAP") if new["is_public"] else None), new["region"],
               new["resource"], None, "ACTIVE", f"{type_label(new['resource_type'])}; "
               f"finding {new['id']}" + _accepted(new.get("exception"))]
    for change in found.get("findings_changed", []):
        turned = change["is_public"] and not change["was_public"]
        yield [Styled("Finding turned public" if turned else "Finding changed",
                      status_style("GAP") if turned else None), change["region"],
               change["resource"],
               "\n".join(f"{k}: {_change_text(v)}" for k, v in change["before"].items()) or None,
               "\n".join(f"{k}: {_change_text(v)}" for k, v in change["after"].items()) or None,
               f"{type_label(change['resource_type'])}; finding {change['id']}; changed: "
               + ", ".join(change["fields"])]
    yield from _register_rows(found)
    for closed in found["findings_closed"]:
        yield ["Closed finding", closed["region"], closed["resource"], "ACTIVE",
               closed["status_now"] or "no longer listed",
               f"{type_label(closed['resource_type'])}; finding {closed['id']}"]
    untold = tables.untold_text(found)
    if untold:
        yield [Styled("Counted as new", status_style("GAP")), None,
               f"{untold} could not be compared with an earlier run: the new-gaps and "
               "new-public gates count them as new", None, None, None]
    requirement = found.get("requirement")
    if requirement:
        yield [Styled("Requirement changed", status_style("ERROR")), None,
               "coverage_types changed: gaps judged against another requirement are not "
               "compared", " + ".join(requirement["before"] or ["not recorded"]),
               " + ".join(requirement["after"] or ["not recorded"]), None]
    for unknown in found["unknown"]:
        yield [Styled("Not compared", status_style("ERROR")), unknown["region"], None, None,
               None, unknown["reason"]]
    for older in found.get("compared_with", []):
        yield ["Compared with older run", older["region"], f"{older['what']} compared with the "
               "latest run that knew them", None, None,
               f"run {older['run_id']}, started {older['started_at']}"]
    if problem:
        yield [Styled("History", status_style("ERROR")), None, problem, None, None, None]


def _accepted(key: str | None) -> str:
    """The Detail of a new gap or finding an exception accepts: which one."""
    return f"; accepted by {key}" if key else ""


def _change_text(value: Any) -> str:
    """A value of a changed finding (a flag, a principal, actions) as cell text."""
    if isinstance(value, dict):
        return tables.format_mapping(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def trend_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The Trend sheet: one row per recorded run, oldest first."""
    for run in document.get("trend") or []:
        yield [run["run_id"], tables.parse_time(run["started_at"]), run["verdict"],
               run["complete"], run["regions_total"], run["covered"], run["gaps"],
               run["errors"], run["active_findings"], run["public_findings"]]


def age_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The Finding age sheet: active findings by age per resource type, then all types."""
    age = document.get("finding_age")
    if age is None:
        return
    resolve = age["time_to_resolve"]
    resolved = resolve["by_type"] if resolve else {}
    for resource_type in sorted(set(age["by_type"]) | set(resolved)):
        counts = age["by_type"].get(resource_type, {})
        done = resolved.get(resource_type)
        yield [type_label(resource_type), *(counts.get(b, 0) for b in age["buckets"]),
               int(done["resolved"]) if done else None,
               done["median_days"] if done else None, done["p90_days"] if done else None]
    yield [Styled(v, TOTAL) for v in [
        "All types", *(age["total"].get(b, 0) for b in age["buckets"]),
        resolve["resolved"] if resolve else None, resolve["median_days"] if resolve else None,
        resolve["p90_days"] if resolve else None]]
    public = age.get("public")
    if public is not None:
        yield [Styled(v, TOTAL) for v in [
            "of which public", *(public.get(b, 0) for b in age["buckets"]), None, None, None]]
