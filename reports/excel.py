"""report.xlsx: the gap workbook, one sheet per view of the scan document.

Written by XlsxWriter in its constant-memory mode: each row goes to disk as soon as the next
one starts, so a scan with 100,000 findings never holds the workbook in memory, and the file
is renamed into place only once complete (reports.files). XlsxWriter writes the 80,000-row
Findings sheet in two thirds of the time of openpyxl's write-only mode, and takes a row as
one call, so the Findings rows need no per-cell objects (bench/bench_workbook.py).
openpyxl stays for reading workbooks (the tests, the independent checks).

How a sheet is written: a `Table` (title, columns with their maximum widths, the style of
its cells) and a generator of rows (lists of plain values; `Styled(value, style)` for a
cell with its own look), listed in `sheets()`. `_SheetWriter` does the rest: widths from the
first rows, the header, frozen panes, filters, print setup, row heights, continuation sheets,
and the cell rules below. Styles are named (`HEADER`, `TEXT`, ...) and declared once in
`STYLES`.

Everything in a cell comes from AWS or from a configuration file and is treated as hostile:
no string is ever stored as a formula (a value starting with "=" would otherwise be one),
characters that XLSX cannot hold are shown instead (document.rules.reveal), over-long values
are truncated with a visible marker, and a table longer than a sheet continues on
"Findings (2)", "Findings (3)", ...
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tempfile
import textwrap
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

import xlsxwriter
from xlsxwriter.exceptions import FileCreateError

from reports.document.controls import assess
from reports.document.pack import Integrity
from reports.document.rules import UNSAFE, reveal, type_label
from reports.document.schema import AnalyzerEntry, ScanDocument
from reports.document.scope import completeness, configuration_sha256, scope

from . import tables
from .console import changes_line
from .files import write_atomic

# XlsxWriter's Workbook, Worksheet and Format (its package declares no types for mypy).
Book = Any
Sheet = Any
Format = Any

FILE_NAME = "report.xlsx"
# Rows per sheet, header included (Excel's limit). Module constants so tests can lower them.
MAX_ROWS = 1_048_576
MAX_CELL_CHARS = 32_767
# Rows looked at to size the columns; the rest of a table streams through unseen.
WIDTH_SAMPLE_ROWS = 500
MIN_WIDTH = 6
DATE_FORMAT = "yyyy-mm-dd h:mm:ss"  # the workbook's default, so plain datetimes need nothing
LINE_HEIGHT = 15.0  # points per line of 11-point Calibri
MAX_ROW_HEIGHT = 409.0  # Excel's limit

# Styles, by name: each becomes one cell format of the workbook (see STYLES).
HEADER = "aa-scan header"
TEXT = "aa-scan text"
LEFT = "aa-scan text left"
BOOL = "aa-scan boolean"
BOOL_LEFT = "aa-scan boolean left"
BOOL_PLAIN = "aa-scan boolean plain"  # the booleans of the large, unstyled sheets
# Excel shows booleans as TRUE/FALSE whatever the format; LibreOffice shows 1/0 unless told.
BOOL_FORMAT = '"TRUE";"TRUE";"FALSE"'
DATE = "aa-scan date"
TOTAL = "aa-scan total"
LOWER_BOUND = "aa-scan lower bound"  # a count shown as "80,048+", still a number
_GREEN = ("C6EFCE", "006100")
_RED = ("FFC7CE", "9C0006")
_ORANGE = ("FCD5B4", "974706")
_AMBER = ("FFEB9C", "9C5700")
_GREY = ("E7E6E6", "595959")
_COLOURS: Mapping[str, tuple[str, str]] = {
    # Region status, verdict, gap severity: fill and font colour.
    "COVERED": _GREEN, "GAP": _RED, "ERROR": _AMBER, "NOT_ENABLED": _GREY, "EXCLUDED": _GREY,
    "COMPLIANT": _GREEN, "NON_COMPLIANT": _RED, "INCOMPLETE": _AMBER,
    "CRITICAL": _RED, "HIGH": _RED, "MEDIUM": _ORANGE, "LOW": _AMBER, "INFO": _GREY,
}
_TAB_COLOURS = {"COMPLIANT": "70AD47", "NON_COMPLIANT": "C00000", "INCOMPLETE": "FFC000"}
_TOP = {"valign": "top", "text_wrap": True}
STYLES: Mapping[str, Mapping[str, Any]] = {
    HEADER: {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78", "pattern": 1,
             "valign": "vcenter", "text_wrap": True, "bottom": 1, "bottom_color": "#000000"},
    TEXT: _TOP,
    LEFT: {**_TOP, "align": "left"},
    BOOL: {"num_format": BOOL_FORMAT, "valign": "top", "align": "center"},
    BOOL_LEFT: {"num_format": BOOL_FORMAT, "valign": "top", "align": "left"},
    BOOL_PLAIN: {"num_format": BOOL_FORMAT},
    DATE: {"num_format": DATE_FORMAT, "valign": "top", "align": "left"},
    TOTAL: {**_TOP, "bold": True, "top": 1, "top_color": "#000000"},
    LOWER_BOUND: {"num_format": '#,##0"+"', "valign": "top", "align": "left"},
    **{f"aa-scan {key}": {**_TOP, "bold": True, "font_color": f"#{font}",
                          "bg_color": f"#{fill}", "pattern": 1}
       for key, (fill, font) in _COLOURS.items()},
}


def _status_style(key: str | None) -> str | None:
    return f"aa-scan {key}" if key in _COLOURS else None


# --- hostile text -----------------------------------------------------------------------------

_FORMULA_START = frozenset("=+-@\t\r#")
# Strings up to this length cannot exceed a cell, even in UTF-16 units and once escaped
# (an escape is 7 characters), so only longer ones are measured.
_SHORT = MAX_CELL_CHARS // 7
# What the writer escapes in stored text (OOXML, ECMA-376 22.4.2.4, which Excel and
# LibreOffice decode): a control character it cannot hold as _xHHHH_, and the underscore of a
# literal "_xHHHH_" as _x005F_. Only used to measure the stored length.
_ESCAPE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


def _stored_length(text: str) -> int:
    """Characters the cell holds once escaped, counted in UTF-16 units as Excel does."""
    escaped = _ESCAPE.sub("_x0000_", text)
    return len(escaped) + sum(1 for c in text if c > "\uffff")


def truncation_marker(length: int) -> str:
    return f"… [truncated, {length} characters]"


def clean_text(value: str) -> str:
    """The text to store: unsafe characters shown, at most one cell long once stored."""
    text = reveal(value)
    if len(text) <= _SHORT or _stored_length(text) <= MAX_CELL_CHARS:
        return text
    marker = truncation_marker(len(text))
    budget = MAX_CELL_CHARS - len(marker)
    # Escapes and UTF-16 pairs make characters longer: the longest prefix that fits.
    low, high = 0, budget
    while low < high:
        middle = (low + high + 1) // 2
        if _stored_length(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low] + marker


@dataclass(frozen=True, slots=True)
class Styled:
    """A value with its own cell style (status colours, totals)."""

    value: Any
    style: str | None


# --- sheets -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    header: str
    max_width: int = 40


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[Column]
    # Small sheets: every cell top-aligned and wrapped, rows as tall as their text. Large ones
    # (Findings) stay unstyled: plain values are what keeps 100,000 rows fast.
    cell_style: str | None = TEXT
    # Printing: one page wide (the reading sheets), landscape.
    fit_width: bool = False
    tab_color: str | None = None
    # Draws on the first sheet once its rows are written (rows written, header excluded).
    charts: Callable[[Book, Sheet, int], None] | None = None

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _display_length(value: Any) -> int:
    if isinstance(value, Styled):
        value = value.value
    if value is None:
        return 0
    if isinstance(value, dt.datetime):
        return len(DATE_FORMAT)
    if isinstance(value, bool):
        return 5
    if isinstance(value, str):
        return max(len(line) for line in value.split("\n")) if "\n" in value else len(value)
    return len(str(value))


def column_widths(table: Table, sample: Sequence[Sequence[Any]]) -> list[float]:
    """Widths from the header and a sample of rows, bounded per column. A long header wraps at
    word boundaries instead of widening a column of small numbers."""
    widths = []
    for index, column in enumerate(table.columns):
        longest_word = max(len(word) for word in column.header.split())
        content = max((_display_length(row[index]) for row in sample if index < len(row)),
                      default=0)
        wanted = math.ceil(max(content, longest_word, min(len(column.header), 14)) * 1.1) + 2
        widths.append(float(max(MIN_WIDTH, min(wanted, column.max_width))))
    return widths


def _shown_width(stored: float) -> float:
    """XlsxWriter's set_column takes the width Excel shows and stores it with the cell padding
    added (5 pixels at 7 pixels a character, 11-point Calibri); column_widths are the widths
    as stored in the file, padding included, so the padding comes off first."""
    return (stored * 7 - 5) / 7


def _line_count(value: Any, width: float) -> int:
    """Lines a wrapped cell needs at `width` (an estimate: Excel measures glyphs, not
    characters, and LibreOffice does not re-measure rows when it opens a file)."""
    if isinstance(value, Styled):
        value = value.value
    if not isinstance(value, str) or not value:
        return 1
    per_line = max(1, math.floor((width - 2) / 1.1))  # the inverse of column_widths
    if len(value) <= per_line and "\n" not in value:
        return 1
    lines = 0
    for paragraph in value.split("\n"):
        if len(paragraph) <= per_line:
            lines += 1
        else:
            lines += len(textwrap.wrap(paragraph, per_line, break_on_hyphens=False)) or 1
    return lines


def row_height(row: Sequence[Any], widths: Sequence[float]) -> float | None:
    """An explicit height for a row with wrapped text, None for a single line."""
    lines = max((_line_count(v, w) for v, w in zip(row, widths, strict=False)), default=1)
    return min(MAX_ROW_HEIGHT, LINE_HEIGHT * lines + 2) if lines > 1 else None


@dataclass(frozen=True)
class _Formats:
    """The workbook's cell formats: one per style, and each again with a quote prefix (text
    that looks like a formula stays text even when a user edits the cell)."""

    plain: Mapping[str, Format]
    quoted: Mapping[str | None, Format]

    @classmethod
    def register(cls, book: Book) -> _Formats:
        plain = {name: book.add_format(dict(props)) for name, props in STYLES.items()}
        quoted: dict[str | None, Format] = {
            name: book.add_format({**props, "quote_prefix": True})
            for name, props in STYLES.items()}
        quoted[None] = book.add_format({"quote_prefix": True})
        return cls(plain, quoted)


class _SheetWriter:
    """Streams one table into one or more sheets (continuing past MAX_ROWS).

    A row is written with one `write_row` call of its plain values, in the table's cell
    format; a cell that needs another format (a boolean, a date in a styled table, a Styled
    value, text that looks like a formula) is left out of it and written on its own, into the
    same row, right after."""

    def __init__(self, book: Book, formats: _Formats, table: Table,
                 widths: Sequence[float]) -> None:
        self.book = book
        self.formats = formats
        self.table = table
        self.widths = widths
        self.base_style = table.cell_style
        self.base = formats.plain[table.cell_style] if table.cell_style else None
        self.bool_format = formats.plain[
            BOOL_LEFT if table.cell_style == LEFT else BOOL if table.cell_style else BOOL_PLAIN]
        self.date_format = formats.plain[DATE] if table.cell_style else None
        self.sheets: list[Sheet] = []
        self.ws: Sheet
        self.rows_in_sheet = 0

    def _open(self) -> None:
        number = len(self.sheets) + 1
        title = self.table.title if number == 1 else f"{self.table.title} ({number})"
        ws = self.book.add_worksheet(title)
        for index, width in enumerate(self.widths):
            ws.set_column(index, index, _shown_width(width))
        ws.freeze_panes(1, 0)
        ws.repeat_rows(0)
        ws.set_landscape()
        if self.table.fit_width:
            ws.fit_to_pages(1, 0)
        ws.hide_gridlines(0)  # shown on screen and printed
        if self.table.tab_color:
            ws.set_tab_color(f"#{self.table.tab_color}")
        self.ws = ws
        self.sheets.append(ws)
        height = row_height(self.table.headers, [w * 0.9 for w in self.widths])  # bold
        if height:
            ws.set_row(0, height)
        header = self.formats.plain[HEADER]
        for index, text in enumerate(self.table.headers):
            ws.write_string(0, index, clean_text(text), header)
        self.rows_in_sheet = 1

    def _close(self) -> None:
        self.ws.autofilter(0, 0, self.rows_in_sheet - 1, len(self.table.columns) - 1)

    def write(self, rows: Iterable[Sequence[Any]]) -> int:
        limit = max(2, MAX_ROWS)
        self._open()
        written = 0
        write_row = self.ws.write_row
        convert = self._convert
        wrapped = self.base_style is not None
        base = self.base
        for row in rows:
            if self.rows_in_sheet >= limit:
                self._close()
                self._open()
                write_row = self.ws.write_row
            index = self.rows_in_sheet
            if wrapped:
                height = row_height(row, self.widths)
                if height:
                    self.ws.set_row(index, height)
            values, apart = convert(row)
            write_row(index, 0, values, base)
            for column, value, cell_format in apart:
                self._write_apart(index, column, value, cell_format)
            self.rows_in_sheet += 1
            written += 1
        self._close()
        if self.table.charts is not None and written:
            self.table.charts(self.book, self.sheets[0], written)
        return written

    def _write_apart(self, row: int, column: int, value: Any, cell_format: Format) -> None:
        # The typed calls, so that a string is a string whatever it holds.
        if isinstance(value, bool):
            self.ws.write_boolean(row, column, value, cell_format)
        elif isinstance(value, str):
            self.ws.write_string(row, column, value, cell_format)
        elif isinstance(value, dt.datetime | dt.date):
            self.ws.write_datetime(row, column, value, cell_format)
        elif value is None:
            self.ws.write_blank(row, column, None, cell_format)
        else:
            self.ws.write_number(row, column, value, cell_format)

    def _convert(self, row: Sequence[Any]) -> tuple[list[Any], list[tuple[int, Any, Format]]]:
        """The row's plain values (written as one row), and the cells written apart. Plain
        values pass straight through; the fast path matters at 100,000 rows."""
        out: list[Any] = []
        apart: list[tuple[int, Any, Format]] = []
        for column, value in enumerate(row):
            kind = value.__class__
            if kind is str:
                # isprintable() is False for every control character, surrogate and
                # non-character, so the regex only runs on the rare string that may need it.
                if (len(value) > _SHORT or value[:1] in _FORMULA_START
                        or not value.isprintable()):
                    text = (clean_text(value) if len(value) > _SHORT
                            or UNSAFE.search(value) is not None else value)
                    if value[:1] in _FORMULA_START:
                        apart.append((column, text, self.formats.quoted[self.base_style]))
                        value = None
                    else:
                        value = text
            elif kind is dt.datetime:
                value = (value.replace(tzinfo=None) if value.tzinfo is dt.UTC
                         else _naive_utc(value))
                if self.date_format is not None:
                    apart.append((column, value, self.date_format))
                    value = None
            elif value is None or kind is int or (kind is float and math.isfinite(value)):
                pass
            elif kind is bool:
                apart.append((column, value, self.bool_format))
                value = None
            else:
                apart.append((column, *self._other(value)))
                value = None
            out.append(value)
        return out, apart

    def _other(self, value: Any) -> tuple[Any, Format]:
        """A value that is not a plain str, int, bool, datetime or None, with its format."""
        style = self.base_style
        if isinstance(value, Styled):
            value, style = value.value, value.style or style
            if isinstance(value, str):
                return self._text(value, style)
        if isinstance(value, bool):
            return value, self.formats.plain[style] if style else self.bool_format
        if isinstance(value, dt.datetime):
            return _naive_utc(value), self.formats.plain[DATE]
        if isinstance(value, dt.date):
            return value, self.formats.plain[DATE]
        if value is None or isinstance(value, int) or (
                isinstance(value, float) and math.isfinite(value)):
            return value, self.formats.plain[style] if style else None
        return self._text(str(value), style)

    def _text(self, value: str, style: str | None) -> tuple[str, Format]:
        text = clean_text(value)
        if value[:1] in _FORMULA_START:
            return text, self.formats.quoted[style]
        return text, self.formats.plain[style] if style else None


def _write_table(book: Book, formats: _Formats, table: Table,
                 rows: Iterable[Sequence[Any]]) -> int:
    iterator = iter(rows)
    sample = list(islice(iterator, WIDTH_SAMPLE_ROWS))
    writer = _SheetWriter(book, formats, table, column_widths(table, sample))
    return writer.write(chain(sample, iterator))


# --- the tables -------------------------------------------------------------------------------

SUMMARY = Table("Summary", [Column("Section", 18), Column("Item", 40), Column("Value", 90)],
                cell_style=LEFT, fit_width=True)
GAPS = Table("Gaps", [Column("Kind", 10), Column("Scope", 14), Column("Region", 16),
                      Column("Severity", 10), Column("Code", 22), Column("Title", 40),
                      Column("Detail", 50), Column("Remediation", 60),
                      Column("Where and when to run it", 45), Column("Controls", 40)],
            fit_width=True)
REGIONS = Table("Regions", [
    Column("Region", 16), Column("Status", 14), Column("Reason", 22), Column("Detail", 40),
    Column("Opt-in status", 21), Column("Analyzers", 36), Column("Findings scope", 16),
    Column("Active", 8), Column("Public", 8), Column("Cross-account", 10),
    Column("Could not be analyzed", 10), Column("Archived", 9), Column("Resolved", 9),
    Column("Complete", 9),
    Column("Error code", 22), Column("Error message", 40)], fit_width=True)
FINDINGS = Table("Findings", [
    Column("Region", 16), Column("Resource type", 28), Column("Resource", 60),
    Column("Owner account", 15), Column("Owner name", 24), Column("Principal", 50),
    Column("Actions", 40), Column("Conditions", 40), Column("Public", 8), Column("Status", 10),
    Column("Scope", 26), Column("Created (UTC)", 20), Column("Age (days)", 10),
    Column("Updated (UTC)", 20),
    Column("Analyzed (UTC)", 20), Column("Error", 40), Column("Finding ID", 38),
    Column("Analyzer ARN", 60)], cell_style=None)
ARCHIVE_RULES = Table("Archive rules", [
    Column("Region", 16), Column("Analyzer ARN", 50), Column("Rule name", 30),
    Column("Filter", 70), Column("Created (UTC)", 20), Column("Updated (UTC)", 20)],
    fit_width=True)
ERRORS = Table("Errors", [Column("Scope", 18), Column("Region", 16), Column("Operation", 28),
                          Column("Code", 28), Column("Message", 80)], fit_width=True)
SCOPE_LABELS = {"ORGANIZATION": "ORGANIZATION", "ACCOUNT": "ACCOUNT (account-scoped)"}
_COUNTS = tables.COUNT_KEYS
_COUNT_LABELS = {"active": "active", "public": "public", "cross_account": "cross-account",
                 "errors": "could not be analyzed"}
NOT_COLLECTED = "not collected (coverage only)"


def scope_label(scope: str | None) -> str | None:
    return SCOPE_LABELS.get(scope, scope) if scope else None


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


def change_rows(document: ScanDocument) -> Iterator[list[Any]]:
    found = document.get("changes")
    if found is None:
        yield ["Not compared", None, "This run was not compared with an earlier one "
               "(written without the history, or before aa-scan kept one).", None, None, None]
        return
    baseline = found["baseline"]
    problem = found.get("history_error")
    if baseline is None:
        if problem:
            yield [Styled("Not compared", _status_style("ERROR")), None,
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
        yield [Styled("Gap opened", _status_style("GAP")), gap["region"] or "organization",
               gap["title"], None, gap["code"], gap["severity"]]
    for moved in found.get("gaps_changed", []):
        yield [Styled("Gap more severe" if moved["escalated"] else "Gap changed",
                      _status_style("GAP") if moved["escalated"] else None),
               moved["region"] or "organization", moved["title"],
               f"{moved['severity_before']}: {moved['title_before']}", moved["severity"],
               moved["code"]]
    for gap in found["gaps_closed"]:
        yield [Styled("Gap closed", _status_style("COVERED")), gap["region"] or "organization",
               gap["title"], gap["code"], None, gap["severity"]]
    for region in found["regions"]:
        yield ["Region status", region["region"], None, region["before"] or "not listed",
               region["after"] or "not listed",
               "; ".join(r for r in (region["before_reason"], region["after_reason"]) if r)
               or None]
    for new in found["findings_new"]:
        kind = "New public finding" if new["is_public"] else "New finding"
        yield [Styled(kind, _status_style("GAP") if new["is_public"] else None), new["region"],
               new["resource"], None, "ACTIVE", f"{type_label(new['resource_type'])}; "
               f"finding {new['id']}"]
    for change in found.get("findings_changed", []):
        turned = change["is_public"] and not change["was_public"]
        yield [Styled("Finding turned public" if turned else "Finding changed",
                      _status_style("GAP") if turned else None), change["region"],
               change["resource"],
               "\n".join(f"{k}: {_change_text(v)}" for k, v in change["before"].items()) or None,
               "\n".join(f"{k}: {_change_text(v)}" for k, v in change["after"].items()) or None,
               f"{type_label(change['resource_type'])}; finding {change['id']}; changed: "
               + ", ".join(change["fields"])]
    for closed in found["findings_closed"]:
        yield ["Closed finding", closed["region"], closed["resource"], "ACTIVE",
               closed["status_now"] or "no longer listed",
               f"{type_label(closed['resource_type'])}; finding {closed['id']}"]
    untold = tables.untold_text(found)
    if untold:
        yield [Styled("Counted as new", _status_style("GAP")), None,
               f"{untold} could not be compared with an earlier run: the new-gaps and "
               "new-public gates count them as new", None, None, None]
    requirement = found.get("requirement")
    if requirement:
        yield [Styled("Requirement changed", _status_style("ERROR")), None,
               "coverage_types changed: gaps judged against another requirement are not "
               "compared", " + ".join(requirement["before"] or ["not recorded"]),
               " + ".join(requirement["after"] or ["not recorded"]), None]
    for unknown in found["unknown"]:
        yield [Styled("Not compared", _status_style("ERROR")), unknown["region"], None, None,
               None, unknown["reason"]]
    for older in found.get("compared_with", []):
        yield ["Compared with older run", older["region"], f"{older['what']} compared with the "
               "latest run that knew them", None, None,
               f"run {older['run_id']}, started {older['started_at']}"]
    if problem:
        yield [Styled("History", _status_style("ERROR")), None, problem, None, None, None]


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
    for run in document.get("trend") or []:
        yield [run["run_id"], tables.parse_time(run["started_at"]), run["verdict"],
               run["complete"], run["regions_total"], run["covered"], run["gaps"],
               run["errors"], run["active_findings"], run["public_findings"]]


def age_rows(document: ScanDocument) -> Iterator[list[Any]]:
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


def _readable(value: Any) -> Any:
    """A configuration value as one cell: scalars kept typed, containers as text."""
    if value is None:
        return "—"
    if isinstance(value, Mapping):
        return tables.format_mapping(value) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "—"
    return value


def _total(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def summary_rows(document: ScanDocument,
                 integrity: Integrity | None = None) -> Iterator[list[Any]]:
    summary = document["summary"]
    org = document["organization"]
    identity = document["identity"]
    tool = document["tool"]
    regions = document["regions"]
    verdict = summary["verdict"]
    yield ["Verdict", "Verdict", Styled(verdict, _status_style(verdict))]
    yield ["Verdict", "Headline", tables.headline(document)]
    yield ["Verdict", "Scan complete", summary["complete"]]
    for reason in summary["incomplete_reasons"]:
        yield ["Verdict", "Incomplete because", reason]
    yield ["Verdict", "Interrupted", summary["interrupted"]]
    yield ["Verdict", "Coverage only (no findings)", summary["coverage_only"]]
    if integrity is not None:
        for item, value in integrity.rows():
            yield ["Integrity", item, value]
    yield from scope_rows(document)
    yield from control_rows(document)

    admins = org["delegated_administrators"]
    accounts = org["accounts"]
    trusted = org["trusted_access"]
    yield ["Organization", "Organization ID", org["id"] or "—"]
    yield ["Organization", "Management account",
           tables.account_text(document, org["management_account_id"]) or "—"]
    yield ["Organization", "Scanning account",
           tables.account_text(document, identity["account_id"])]
    yield ["Organization", "Scanning identity", identity["arn"]]
    yield ["Organization", "Scanning account role", org["scanning_account_role"]]
    if org["scanning_account_role_detail"]:
        yield ["Organization", "Role detail", org["scanning_account_role_detail"]]
    yield ["Organization", "Trusted access for Access Analyzer",
           "unknown" if trusted is None else trusted]
    yield ["Organization", "Delegated administrators",
           "unknown" if admins is None
           else ", ".join(tables.account_text(document, a) for a in admins) or "none"]
    yield ["Organization", "Accounts", "unknown" if accounts is None else len(accounts)]
    for text, _ in tables.examined_accounts(document):
        yield ["Organization", "Account examined", text]

    started = tables.parse_time(document["started_at"])
    finished = tables.parse_time(document["finished_at"])
    yield ["Scan", "Started (UTC)", started]
    yield ["Scan", "Finished (UTC)", finished]
    if started and finished:
        yield ["Scan", "Duration (seconds)", round((finished - started).total_seconds())]
    yield ["Scan", "Tool", f"{tool['name']} {tool['version']}".strip()]
    yield ["Scan", "Schema version", document["schema_version"]]
    yield ["Scan", "Region discovery", document["discovery"]["source"]]
    for key, value in document["configuration"].items():
        yield ["Configuration", str(key), _readable(value)]

    yield ["Regions", "Regions scanned", summary["regions_total"]]
    for status, number in (("COVERED", summary["covered"]), ("GAP", summary["gaps"]),
                           ("ERROR", summary["errors"]), ("NOT_ENABLED", summary["not_enabled"]),
                           ("EXCLUDED", summary["excluded"])):
        yield ["Regions", Styled(tables.STATUS_LABELS[status], _status_style(status)), number]

    totals = tables.findings_totals(document)
    bound = LOWER_BOUND if tables.lower_bound(document) else None
    labels = ("Active findings", "Public", "Cross-account", "Could not be analyzed")
    for label, key in zip(labels, tables.COUNT_KEYS, strict=True):
        yield ["Findings", label, NOT_COLLECTED if totals is None
               else Styled(totals[key], bound)]
    if bound:
        yield ["Findings", "Counts marked +", "lower bounds: some region's findings are "
               "incomplete (see Regions), so more findings may exist"]
    yield ["Findings", "Archived (all regions)", _total(r["archived"] for r in regions)]
    yield ["Findings", "Resolved (all regions)", _total(r["resolved"] for r in regions)]
    yield ["Findings", "Findings listed", len(document["findings"])]
    sheets_needed = max(1, math.ceil(len(document["findings"]) / (max(2, MAX_ROWS) - 1)))
    if sheets_needed > 1:
        yield ["Findings", "Findings sheets", ", ".join(
            ["Findings", *(f"Findings ({n})" for n in range(2, sheets_needed + 1))])]

    yield ["Changes", "Since the baseline", changes_line(document)
           or "not compared (run without the history)"]

    yield ["Gaps", "Gaps", len(document["gaps"])]
    yield ["Gaps", "Advisories", len(document["advisories"])]
    yield ["Gaps", "Failed calls (Errors sheet)", len(tables.errors(document))]


def _regions_text(regions: Sequence[str]) -> str:
    return ", ".join(regions) or "none"


def scope_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The scope statement, as report.html opens with it (evidence.scope)."""
    found = scope(document)
    done = completeness(document)
    accounts = found["accounts"]
    yield ["Scope", "Population: accounts in the organization",
           "unknown (the account list could not be read)" if accounts is None else accounts]
    yield ["Scope", "Regions enabled", len(found["regions_enabled"])]
    yield ["Scope", "Regions called", _regions_text(found["regions_scanned"])]
    yield ["Scope", "Regions not enabled", _regions_text(found["regions_not_enabled"])]
    excluded = found["regions_excluded"]
    yield ["Scope", "Regions excluded", "; ".join(f"{r}: {why or 'no reason given'}"
                                                  for r, why in excluded.items()) or "none"]
    calls = done["api_calls"]
    if calls is None:
        yield ["Scope", "Query (API calls)", "not recorded: the scan document predates "
               "per-operation call counts"]
    else:
        yield ["Scope", "Query (API calls)", sum(calls.values())]
        for operation, number in calls.items():
            yield ["Scope", f"API calls: {operation}", number]
    yield ["Scope", "Parameters", "the effective configuration (Configuration rows below)"]
    yield ["Scope", "Configuration SHA-256", configuration_sha256(document["configuration"])]
    yield ["Scope", "Completeness", "complete" if done["complete"] else
           "incomplete: " + "; ".join(done["reasons"])]


def control_rows(document: ScanDocument) -> Iterator[list[Any]]:
    answers = assess(document)
    if answers is None:
        yield ["Controls", "Controls", "not mapped: the scan document predates the mapping"]
        return
    tones = {"ok": "COVERED", "bad": "GAP", "warn": "ERROR"}
    for answer in answers:
        versions = f" v{answer['versions']}" if answer["versions"] else ""
        yield ["Controls", f"{answer['framework']}{versions} {answer['id']}",
               Styled(f"{answer['status']}: {answer['title']}",
                      _status_style(tones.get(answer["tone"])))]


def gap_rows(document: ScanDocument) -> Iterator[list[Any]]:
    for kind, gaps in (("Gap", document["gaps"]), ("Advisory", document["advisories"])):
        for gap in gaps:
            severity = gap["severity"]
            yield [Styled(kind, _status_style("GAP") if kind == "Gap" else _status_style("INFO")),
                   gap["scope"], gap["region"], Styled(severity, _status_style(severity)),
                   gap["code"], gap["title"], gap["detail"], gap["remediation"],
                   gap["remediation_note"] or None, _controls_text(gap.get("controls"))]


def _controls_text(controls: Sequence[Mapping[str, Any]] | None) -> str | None:
    """"CIS AWS Foundations Benchmark 1.20 (1.4.0, 2.0.0); AWS Security Hub IAM.28"."""
    if not controls:
        return None
    versions: dict[str, list[str]] = {}
    for control in controls:
        cited = versions.setdefault(f"{control['framework']} {control['id']}", [])
        if control["version"]:
            cited.append(str(control["version"]))
    return "; ".join(f"{name} ({', '.join(v)})" if v else name for name, v in versions.items())


def _analyzer_text(analyzer: AnalyzerEntry) -> str:
    return tables.analyzer_text(analyzer)  # with managed_by, and an unknown type said so


def region_rows(document: ScanDocument) -> Iterator[list[Any]]:
    matrix = tables.region_type_matrix(document, tables.resource_types(document))
    for row in matrix:
        region = row.region
        status = region["status"]
        error = region["error"]
        yield [
            region["region"],
            Styled(tables.STATUS_LABELS.get(status, status), _status_style(status)),
            region["reason"], region["detail"], region["opt_in_status"],
            "\n".join(_analyzer_text(a) for a in region["analyzers"]) or None,
            scope_label(region["findings_scope"]),
            *(row.total[k] if row.collected else None for k in _COUNTS),
            region["archived"], region["resolved"], region["complete"],
            error["code"] if error else None, error["message"] if error else None,
        ]


def finding_rows(document: ScanDocument) -> Iterator[list[Any]]:
    for row in tables.finding_rows(document):
        yield [row.region, row.resource_type, row.resource, row.owner_account,
               row.owner_name or None, row.principal, ", ".join(row.actions),
               row.condition or None, row.is_public, row.status, scope_label(row.scope),
               row.created_at, row.age_days, row.updated_at, row.analyzed_at, row.error,
               row.id, row.analyzer_arn]


def type_table(types: Sequence[str]) -> Table:
    columns = [Column("Region", 16), Column("Status", 14), Column("Findings scope", 26),
               Column("Complete", 9)]
    columns += [Column(f"Total {_COUNT_LABELS[k]}", 10) for k in _COUNTS]
    columns += [Column(f"{type_label(t)} {_COUNT_LABELS[k]}", 13)
                for t in types for k in _COUNTS]
    return Table("By resource type", columns, cell_style=None)


def type_rows(document: ScanDocument, types: Sequence[str]) -> Iterator[list[Any]]:
    rows = tables.region_type_matrix(document, list(types))
    for row in rows:
        status = row.region["status"]
        collected = row.collected
        yield [row.region["region"],
               Styled(tables.STATUS_LABELS.get(status, status), _status_style(status)),
               scope_label(row.region["findings_scope"]), row.region["complete"],
               *(row.total[k] if collected else None for k in _COUNTS),
               *(row.cells[t][k] if collected else None
                 for t in types for k in _COUNTS)]
    cells, total = tables.matrix_totals(rows, list(types))
    yield [Styled(v, TOTAL) for v in [
        "Total", None, None, None, *(total[k] for k in _COUNTS),
        *(cells[t][k] for t in types for k in _COUNTS)]]


def account_table(types: Sequence[str]) -> Table:
    columns = [Column("Account ID", 15), Column("Account name", 30), Column("Active", 9),
               Column("Public", 9), Column("Cross-account", 10),
               Column("Could not be analyzed", 10), Column("Regions", 9)]
    columns += [Column(f"{type_label(t)} active", 12) for t in types]
    return Table("By account", columns, cell_style=None)


def account_rows(document: ScanDocument, types: Sequence[str]) -> Iterator[list[Any]]:
    total = tables.zero()
    by_type: dict[str, int] = {}
    for row in tables.account_totals(document):
        tables.add(total, row.counts)
        for resource_type, n in row.types.items():
            by_type[resource_type] = by_type.get(resource_type, 0) + n
        yield [row.account_id, row.name or None, row.counts["active"], row.counts["public"],
               row.counts["cross_account"], row.counts["errors"], len(row.regions),
               *(row.types.get(t, 0) for t in types)]
    if total["active"]:
        yield [Styled(v, TOTAL) for v in [
            "Total", None, *(total[k] for k in tables.COUNT_KEYS), None,
            *(by_type.get(t, 0) for t in types)]]


def archive_rule_rows(document: ScanDocument) -> Iterator[list[Any]]:
    for region in document["regions"]:
        for rule in region["archive_rules"]:
            yield [region["region"], rule["analyzer_arn"], rule["name"],
                   tables.filter_text(rule["filter"]), tables.parse_time(rule["created_at"]),
                   tables.parse_time(rule["updated_at"])]


def error_rows(document: ScanDocument) -> Iterator[list[Any]]:
    for error in tables.errors(document):
        yield [error.scope, error.region or None, error.operation or None, error.code,
               error.message]


# --- internal access and unused access (issue 12): their own sheets, present when the scan
# found an analyzer of the analysis ---------------------------------------------------------

INTERNAL = Table("Internal access", [
    Column("Region", 16), Column("Analyzer", 30), Column("Managed by", 26),
    Column("Resource type", 30), Column("Active", 9), Column("Archived", 9),
    Column("Resolved", 9)], fit_width=True)
_ANALYSIS_FINDING_COLUMNS = [
    Column("Region", 16), Column("Resource type", 28), Column("Resource", 60),
    Column("Owner account", 15), Column("Owner name", 24), Column("Status", 10),
    Column("Created (UTC)", 20), Column("Updated (UTC)", 20), Column("Analyzed (UTC)", 20),
    Column("Error", 30), Column("Finding ID", 38), Column("Analyzer ARN", 60)]
INTERNAL_FINDINGS = Table("Internal findings", _ANALYSIS_FINDING_COLUMNS, cell_style=None)
UNUSED_FINDINGS = Table("Unused findings", [Column("Finding type", 24),
                                            *_ANALYSIS_FINDING_COLUMNS], cell_style=None)


def unused_table(kinds: Sequence[str]) -> Table:
    return Table("Unused access", [
        Column("Region", 16), Column("Analyzer", 30), Column("Managed by", 26),
        Column("Account", 15), Column("Account name", 24), Column("Active", 9),
        *(Column(tables.UNUSED_TYPE_LABELS.get(k, k), 12) for k in kinds),
        Column("Archived", 9), Column("Resolved", 9)], fit_width=True)


def internal_rows(document: ScanDocument) -> Iterator[list[Any]]:
    for row in tables.internal_type_rows(document):
        yield [row.region, row.analyzer, row.managed_by, row.resource_type, row.active,
               row.archived, row.resolved]


def unused_rows(document: ScanDocument, kinds: Sequence[str]) -> Iterator[list[Any]]:
    for row in tables.unused_rows(document):
        yield [row.region, row.analyzer, row.managed_by, row.account or "All accounts",
               row.account_name or None, row.active,
               *(row.by_type.get(k, 0) if row.active is not None else None for k in kinds),
               row.archived, row.resolved]


def analysis_finding_rows(document: ScanDocument, key: tables.AnalysisKey,
                          with_type: bool) -> Iterator[list[Any]]:
    block = tables.analysis_block(document, key)
    for f in block["findings"] if block else ():
        owner = f["resource_owner_account"]
        yield [*((f["finding_type"],) if with_type else ()), f["region"], f["resource_type"],
               f["resource"], owner, tables.account_name(document, owner) or None, f["status"],
               tables.parse_time(f["created_at"]), tables.parse_time(f["updated_at"]),
               tables.parse_time(f["analyzed_at"]), f["error"], f["id"], f["analyzer_arn"]]


def analysis_sheets(document: ScanDocument) -> list[tuple[Table, Iterable[Sequence[Any]]]]:
    out: list[tuple[Table, Iterable[Sequence[Any]]]] = []
    if tables.analysis_analyzers(document, "internal_access"):
        out += [(INTERNAL, internal_rows(document)),
                (INTERNAL_FINDINGS, analysis_finding_rows(document, "internal_access", False))]
    if tables.analysis_analyzers(document, "unused_access"):
        kinds = tables.unused_types(document)
        out.append((unused_table(kinds), unused_rows(document, kinds)))
        block = tables.analysis_block(document, "unused_access")
        if block and any(a["findings_collected"] for a in block["analyzers"]):
            out.append((UNUSED_FINDINGS, analysis_finding_rows(document, "unused_access",
                                                               True)))
    return out
def _member_regions(document: ScanDocument) -> list[str]:
    """The regions of the member matrix: those enabled in some account examined (a region
    no account has enabled would be a column of NOT_ENABLED only: scan.json keeps it)."""
    view = document.get("member_view")
    accounts = view["accounts"] if view else []
    return sorted({r for a in accounts for r, cell in a["regions"].items()
                   if cell != "NOT_ENABLED"})


def member_table(document: ScanDocument) -> Table:
    """The member view (IAM.28 per account): accounts down, regions across, then why an
    account could not be examined (last, so a long reason never covers a region's cell)."""
    regions = _member_regions(document)
    return Table("Member accounts", [Column("Account ID", 15), Column("Account name", 30),
                                     Column("Status", 12), *(Column(r, 13) for r in regions),
                                     Column("Error", 60)], cell_style=None)


_MEMBER_STYLES = {"PASS": "COVERED", "FAIL": "GAP", "ERROR": "ERROR",
                  "NOT_ENABLED": "NOT_ENABLED", "SUSPENDED": "NOT_ENABLED"}


def _member_cell(value: str | None) -> Any:
    style = _status_style(_MEMBER_STYLES.get(value or ""))
    return Styled(value, style) if style and value else value


def member_rows(document: ScanDocument) -> Iterator[list[Any]]:
    view = document.get("member_view")
    if view is None:
        return
    regions = _member_regions(document)
    for account in view["accounts"]:
        error = account["error"]
        reasons = account.get("region_errors") or {}
        why = [f"{error['code']}: {error['message']}"] if error else []
        why += [f"{r}: {e['code']}: {e['message']}" for r, e in sorted(reasons.items())]
        yield [account["account_id"], account["name"] or None,
               _member_cell(account["status"]),
               *(_member_cell(account["regions"].get(r)) for r in regions),
               "\n".join(why) or None]


def sheets(document: ScanDocument, integrity: Integrity | None = None
           ) -> list[tuple[Table, Iterable[Sequence[Any]]]]:
    """Every table of the workbook, in order, with its rows (lazily for the big ones)."""
    types = tables.resource_types(document)
    summary = replace(SUMMARY, tab_color=_TAB_COLOURS.get(document["summary"]["verdict"]))
    return [
        (summary, summary_rows(document, integrity)),
        (CHANGES, change_rows(document)),
        (GAPS, gap_rows(document)),
        (REGIONS, region_rows(document)),
        (FINDINGS, finding_rows(document)),
        (type_table(types), type_rows(document, types)),
        (account_table(types), account_rows(document, types)),
        (AGES, age_rows(document)),
        (TREND, trend_rows(document)),
        *analysis_sheets(document),
        (ARCHIVE_RULES, archive_rule_rows(document)),
        (ERRORS, error_rows(document)),
        *([(member_table(document), member_rows(document))]
          if "member_view" in document else []),
    ]


def _abandon(book: Book) -> None:
    """After a failure, let XlsxWriter close the files each sheet has been streaming into.
    XlsxWriter has no public call to abandon a workbook; closing it is the public way (it
    writes what it has into the stream, a temporary file that write_atomic then removes; a
    second failure there changes nothing: build_workbook removes the files all the same)."""
    with suppress(Exception):
        book.close()


def build_workbook(document: ScanDocument, stream: IO[bytes],
                   integrity: Integrity | None = None) -> None:
    """The whole workbook into `stream` (which write_workbook renames into place)."""
    # XlsxWriter streams each sheet into a named temporary file and removes it once packed
    # into the workbook; after a failure it would stay, with the findings in it. In a folder
    # of our own, they all go whatever happens.
    with tempfile.TemporaryDirectory(prefix="aa-scan-xlsx-",
                                     ignore_cleanup_errors=True) as scratch:
        book = xlsxwriter.Workbook(stream, {
            "constant_memory": True, "tmpdir": scratch,
            # A string is always text: never a formula, a link or a number.
            "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False, "default_date_format": DATE_FORMAT})
        book.set_properties({"title": "aa-scan: IAM Access Analyzer coverage",
                             "author": "aa-scan"})
        try:
            formats = _Formats.register(book)
            for table, rows in sheets(document, integrity):
                _write_table(book, formats, table, rows)
            book.close()
        except FileCreateError as error:
            _abandon(book)
            # XlsxWriter wraps the OSError of writing the file (a full disk); a writer's
            # failure to write is an OSError, which the CLI reports and goes on with the
            # other formats.
            cause = error.__context__
            # The half-written zip XlsxWriter opened lives on in the traceback's frames; left
            # there, it is closed by the garbage collector after the stream is gone (an
            # "exception ignored" at some later point). Closed now, while the stream is open.
            traceback.clear_frames(error.__traceback__)
            if isinstance(cause, OSError):
                traceback.clear_frames(cause.__traceback__)
                raise cause from None
            raise
        except Exception:  # not on Ctrl-C: then the folder goes at once, unwritten
            _abandon(book)
            raise


def write_workbook(document: ScanDocument, directory: Path, *,
                   integrity: Integrity | None = None) -> Path:
    """Write report.xlsx into `directory`, atomically, and return its path."""
    return write_atomic(directory / FILE_NAME,
                        lambda stream: build_workbook(document, stream, integrity))
