"""report.xlsx: the gap workbook, one sheet per view of the scan document.

Written in openpyxl's streaming (write-only) mode: rows go to disk as they are produced, so a
scan with 100,000 findings never holds the workbook in memory, and the file is renamed into
place only once complete (reports.files).

Everything in a cell comes from AWS or from a configuration file and is treated as hostile:
no string is ever stored as a formula (a value starting with "=" would otherwise be one),
characters that XLSX cannot hold are removed, over-long values are truncated with a visible
marker, and a table longer than a sheet continues on "Findings (2)", "Findings (3)", ...
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from itertools import chain, islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter

from document.rules import UNSAFE, reveal, type_label
from document.schema import AnalyzerEntry, ScanDocument
from evidence.controls import assess
from evidence.scope import completeness, configuration_sha256, scope

from . import tables
from .console import changes_line
from .files import write_atomic

if TYPE_CHECKING:  # the class of write-only sheets; only its public methods are used
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

FILE_NAME = "report.xlsx"
# Rows per sheet, header included (Excel's limit). Module constants so tests can lower them.
MAX_ROWS = 1_048_576
MAX_CELL_CHARS = 32_767
# Rows looked at to size the columns; the rest of a table streams through unseen.
WIDTH_SAMPLE_ROWS = 500
MIN_WIDTH = 6
DATE_FORMAT = "yyyy-mm-dd h:mm:ss"  # openpyxl's own, so plain datetimes need no cell object
LINE_HEIGHT = 15.0  # points per line of 11-point Calibri
MAX_ROW_HEIGHT = 409.0  # Excel's limit

# Styles, registered once per workbook as named styles (cheap to apply per cell).
HEADER = "aa-scan header"
TEXT = "aa-scan text"
LEFT = "aa-scan text left"
BOOL = "aa-scan boolean"
BOOL_LEFT = "aa-scan boolean left"
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


def _status_style(key: str | None) -> str | None:
    return f"aa-scan {key}" if key in _COLOURS else None


# --- hostile text -----------------------------------------------------------------------------

# Every string that needs more than a pass-through: a first character that a spreadsheet would
# read as the start of a formula (or an error value), an unsafe character (document.rules:
# controls, bidi and invisible characters, lone surrogates, non-characters; XLSX cannot even
# hold some of them), a carriage return (XML parsers turn it into a line feed) or a literal
# "_xHHHH_" (Excel would decode it as an escape). Searched only for strings that fail a cheaper
# test first (see _SheetWriter._convert).
_SPECIAL = re.compile(rf"^[=+\-@\t\r#]|\r|{UNSAFE.pattern}|_x[0-9A-Fa-f]{{4}}_")
# OOXML (ECMA-376 22.4.2.4) escapes a character as _xHHHH_, and a literal "_x" that looks like
# an escape by escaping its underscore. Excel and LibreOffice decode both.
_ESCAPE = re.compile(r"\r|_(?=x[0-9A-Fa-f]{4}_)")
_ESCAPES = {"\r": "_x000D_", "_": "_x005F_"}
_FORMULA_START = frozenset("=+-@\t\r#")


def _escape(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], text)


def truncation_marker(length: int) -> str:
    return f"… [truncated, {length} characters]"


def clean_text(value: str) -> str:
    """The text as stored: unsafe characters shown, escaped, at most one cell long."""
    text = reveal(value)
    stored = _escape(text)
    if len(stored) <= MAX_CELL_CHARS:
        return stored
    marker = truncation_marker(len(text))
    budget = MAX_CELL_CHARS - len(marker)
    if len(stored) == len(text):  # nothing escaped: cut once
        return text[:budget] + marker
    # Escapes make characters longer: the longest prefix whose escaped form fits.
    low, high = 0, budget
    while low < high:
        middle = (low + high + 1) // 2
        if len(_escape(text[:middle])) <= budget:
            low = middle
        else:
            high = middle - 1
    return _escape(text[:low]) + marker


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
    charts: Callable[[WriteOnlyWorksheet, int], None] | None = None

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


class _SheetWriter:
    """Streams one table into one or more sheets (continuing past MAX_ROWS)."""

    def __init__(self, book: Workbook, table: Table, widths: Sequence[float]) -> None:
        self.book = book
        self.table = table
        self.widths = widths
        self.base_style = table.cell_style
        self.bool_style = BOOL_LEFT if table.cell_style == LEFT else BOOL
        self.sheets: list[WriteOnlyWorksheet] = []
        self.ws: WriteOnlyWorksheet
        self.rows_in_sheet = 0

    def _open(self) -> None:
        number = len(self.sheets) + 1
        title = self.table.title if number == 1 else f"{self.table.title} ({number})"
        ws = self.book.create_sheet(title)
        # Everything written before the first row: widths, panes, page setup.
        for index, width in enumerate(self.widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.freeze_panes = "A2"
        ws.print_title_rows = "1:1"
        ws.page_setup.orientation = "landscape"
        if self.table.fit_width:
            ws.sheet_properties.pageSetUpPr.fitToPage = True
            ws.page_setup.fitToWidth = 1
            ws.page_setup.fitToHeight = 0
        ws.print_options.gridLines = True
        if self.table.tab_color:
            ws.sheet_properties.tabColor = self.table.tab_color
        self.ws = ws
        self.sheets.append(ws)
        header = []
        for text in self.table.headers:
            cell = WriteOnlyCell(ws, clean_text(text))
            cell.data_type = "s"
            cell.style = HEADER
            header.append(cell)
        height = row_height(self.table.headers, [w * 0.9 for w in self.widths])  # bold
        if height:
            ws.row_dimensions[1].height = height
        ws.append(header)
        self.rows_in_sheet = 1

    def _close(self) -> None:
        last_column = get_column_letter(len(self.table.columns))
        self.ws.auto_filter.ref = f"A1:{last_column}{self.rows_in_sheet}"

    def write(self, rows: Iterable[Sequence[Any]]) -> int:
        limit = max(2, MAX_ROWS)
        self._open()
        written = 0
        append = self.ws.append
        convert = self._convert
        wrapped = self.base_style is not None
        for row in rows:
            if self.rows_in_sheet >= limit:
                self._close()
                self._open()
                append = self.ws.append
            if wrapped:
                height = row_height(row, self.widths)
                if height:
                    self.ws.row_dimensions[self.rows_in_sheet + 1].height = height
            append(convert(row))
            self.rows_in_sheet += 1
            written += 1
        self._close()
        if self.table.charts is not None and written:
            self.table.charts(self.sheets[0], written)
        return written

    def _convert(self, row: Sequence[Any]) -> list[Any]:
        """Plain values pass straight to openpyxl; only what needs a style or protection
        becomes a cell object (the fast path matters at 100,000 rows)."""
        style = self.base_style
        out: list[Any] = []
        for value in row:
            kind = value.__class__
            if kind is str:
                # isprintable() is False for every control character, surrogate and
                # non-character, so the regex only runs on the rare string that may need it.
                if (len(value) > MAX_CELL_CHARS or value[:1] in _FORMULA_START
                        or not value.isprintable() or "_x" in value):
                    if len(value) > MAX_CELL_CHARS or _SPECIAL.search(value) is not None:
                        value = self._text_cell(value, style)
                    elif style is not None:
                        value = self._cell(value, style)
                elif style is not None:
                    value = self._cell(value, style)
            elif kind is dt.datetime:
                value = self._date_cell(value.replace(tzinfo=None) if value.tzinfo is dt.UTC
                                        else _naive_utc(value))
            elif value is None:
                pass
            elif kind is bool:
                value = self._bool_cell(value)
            elif kind is int:
                if style is not None:
                    value = self._cell(value, style)
            elif kind is Styled:
                value = self._styled(value.value, value.style or style)
            else:
                value = self._other(value, style)
            out.append(value)
        return out

    def _cell(self, value: Any, style: str) -> Any:
        cell = WriteOnlyCell(self.ws)
        cell.style = style
        cell.value = value
        return cell

    def _date_cell(self, value: dt.datetime) -> Any:
        if self.base_style is not None:
            return self._cell(value, DATE)
        # A plain datetime: openpyxl gives it its own date format (yyyy-mm-dd h:mm:ss), and
        # a cell object per date cost a third of the Findings sheet's time.
        return value

    def _bool_cell(self, value: bool) -> Any:
        if self.base_style is not None:
            return self._cell(value, self.bool_style)
        cell = WriteOnlyCell(self.ws, value)
        cell.number_format = BOOL_FORMAT  # half the cost of a named style, 100,000 times
        return cell

    def _text_cell(self, value: str, style: str | None) -> Any:
        text = clean_text(value)
        cell = WriteOnlyCell(self.ws, text)
        cell.data_type = "s"  # never a formula ("=..."), never an error value ("#REF!")
        if style is not None:
            cell.style = style
        if value[:1] in _FORMULA_START:
            # Text even when a user edits the cell and presses Enter.
            cell.quotePrefix = True
        return cell

    def _styled(self, value: Any, style: str | None) -> Any:
        if isinstance(value, bool):
            return self._cell(value, style or self.bool_style)
        if isinstance(value, str):
            return self._text_cell(value, style)
        if isinstance(value, dt.datetime):
            return self._cell(_naive_utc(value), DATE)
        if value is None or style is None:
            return self._other(value, None)
        return self._cell(value, style)

    def _other(self, value: Any, style: str | None) -> Any:
        if isinstance(value, bool):
            return self._bool_cell(value)
        if value is None or isinstance(value, int):
            return value if style is None or value is None else self._cell(value, style)
        if isinstance(value, float) and math.isfinite(value):
            return value if style is None else self._cell(value, style)
        if isinstance(value, dt.date | dt.time):
            return self._cell(value, DATE) if isinstance(value, dt.date) else str(value)
        return self._text_cell(str(value), style)


def _write_table(book: Workbook, table: Table, rows: Iterable[Sequence[Any]]) -> int:
    iterator = iter(rows)
    sample = list(islice(iterator, WIDTH_SAMPLE_ROWS))
    writer = _SheetWriter(book, table, column_widths(table, sample))
    return writer.write(chain(sample, iterator))


def _register_styles(book: Workbook) -> None:
    top = Alignment(vertical="top", wrap_text=True)
    styles = [
        NamedStyle(HEADER, font=Font(bold=True, color="FFFFFF"),
                   fill=PatternFill("solid", fgColor="1F4E78"),
                   alignment=Alignment(vertical="center", wrap_text=True),
                   border=Border(bottom=Side(style="thin", color="000000"))),
        NamedStyle(TEXT, alignment=top),
        NamedStyle(LEFT, alignment=Alignment(vertical="top", horizontal="left", wrap_text=True)),
        NamedStyle(BOOL, number_format=BOOL_FORMAT,
                   alignment=Alignment(vertical="top", horizontal="center")),
        NamedStyle(BOOL_LEFT, number_format=BOOL_FORMAT,
                   alignment=Alignment(vertical="top", horizontal="left")),
        NamedStyle(DATE, number_format=DATE_FORMAT,
                   alignment=Alignment(vertical="top", horizontal="left")),
        NamedStyle(TOTAL, font=Font(bold=True), alignment=top,
                   border=Border(top=Side(style="thin", color="000000"))),
        NamedStyle(LOWER_BOUND, number_format='#,##0"+"',
                   alignment=Alignment(vertical="top", horizontal="left")),
    ]
    for key, (fill, font) in _COLOURS.items():
        styles.append(NamedStyle(f"aa-scan {key}", font=Font(color=font, bold=True),
                                 fill=PatternFill("solid", fgColor=fill), alignment=top))
    for style in styles:
        book.add_named_style(style)


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


CHANGES = Table("Changes", [Column("Change", 20), Column("Region", 16), Column("What", 60),
                            Column("Before", 16), Column("After", 18), Column("Detail", 60)],
                fit_width=True)
AGES = Table("Finding age", [Column("Resource type", 28), Column("Under 7 days", 10),
                             Column("7-30 days", 10), Column("30-90 days", 10),
                             Column("Over 90 days", 10), Column("Resolved", 10),
                             Column("Median days to resolve", 12),
                             Column("90th percentile days to resolve", 14)], fit_width=True)


def _trend_charts(ws: WriteOnlyWorksheet, rows: int) -> None:
    """Native line charts over the Trend sheet's own cells (Excel and LibreOffice draw them),
    below the table so the sheet prints one page wide."""
    dates = Reference(ws, min_col=2, min_row=2, max_row=rows + 1)
    for title, columns, axis, anchor in (("Regions covered", (6, 6), "regions", "A"),
                                         ("Active and public findings", (9, 10), "findings",
                                          "E")):
        chart = LineChart()
        chart.title = title
        chart.height, chart.width = 7.5, 15
        chart.y_axis.title = axis
        chart.y_axis.scaling.min = 0
        chart.add_data(Reference(ws, min_col=columns[0], max_col=columns[1], min_row=1,
                                 max_row=rows + 1), titles_from_data=True)
        chart.set_categories(dates)
        for series in chart.series:
            series.smooth = False  # a run is a point, not a curve through it
        ws.add_chart(chart, f"{anchor}{rows + 3}")


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
    if baseline is None:
        yield ["First recorded run", None, "Nothing to compare with yet: the next run will "
               "show what changed since this one.", None, None, None]
        return
    started = baseline["started_at"].replace("T", " ").replace("Z", " UTC")
    yield ["Baseline", None, f"run {baseline['run_id']}, started {started}", None, None,
           "from the history" if baseline["source"] == "history" else "the baseline file given"]
    for gap in found["gaps_opened"]:
        yield [Styled("Gap opened", _status_style("GAP")), gap["region"] or "organization",
               gap["title"], None, gap["code"], gap["severity"]]
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
    for closed in found["findings_closed"]:
        yield ["Closed finding", closed["region"], closed["resource"], "ACTIVE",
               closed["status_now"] or "no longer listed",
               f"{type_label(closed['resource_type'])}; finding {closed['id']}"]
    for unknown in found["unknown"]:
        yield [Styled("Not compared", _status_style("ERROR")), unknown["region"], None, None,
               None, unknown["reason"]]


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


def summary_rows(document: ScanDocument) -> Iterator[list[Any]]:
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
    view = document.get("member_view")
    return sorted({r for a in view["accounts"] for r in a["regions"]}) if view else []


def member_table(document: ScanDocument) -> Table:
    """The member view (IAM.28 per account): accounts down, regions across."""
    regions = _member_regions(document)
    return Table("Member accounts", [Column("Account ID", 15), Column("Account name", 30),
                                     Column("Status", 12), Column("Error", 40),
                                     *(Column(r, 13) for r in regions)], cell_style=None)


def member_rows(document: ScanDocument) -> Iterator[list[Any]]:
    view = document.get("member_view")
    if view is None:
        return
    regions = _member_regions(document)
    for account in view["accounts"]:
        error = account["error"]
        yield [account["account_id"], account["name"] or None, account["status"],
               f"{error['code']}: {error['message']}" if error else None,
               *(account["regions"].get(r) for r in regions)]


def sheets(document: ScanDocument) -> list[tuple[Table, Iterable[Sequence[Any]]]]:
    """Every table of the workbook, in order, with its rows (lazily for the big ones)."""
    types = tables.resource_types(document)
    summary = replace(SUMMARY, tab_color=_TAB_COLOURS.get(document["summary"]["verdict"]))
    return [
        (summary, summary_rows(document)),
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


class _Discard(io.RawIOBase):
    """A stream that keeps nothing (zipfile writes to unseekable streams)."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


def _discard(book: Workbook) -> None:
    """After a failure, let openpyxl finish and remove the file each write-only sheet has
    been streaming into, now rather than at interpreter exit. openpyxl has no public call to
    abandon a write-only workbook; saving it into a stream that keeps nothing is the public
    way to make it clean up (a second failure there changes nothing: the files then go at
    exit, by openpyxl's own atexit hook)."""
    with suppress(Exception):
        book.save(_Discard())


def build_workbook(document: ScanDocument, stream: IO[bytes]) -> None:
    """The whole workbook into `stream` (which write_workbook renames into place)."""
    book = Workbook(write_only=True)
    book.properties.title = "aa-scan: IAM Access Analyzer coverage"
    book.properties.creator = "aa-scan"
    _register_styles(book)
    try:
        for table, rows in sheets(document):
            _write_table(book, table, rows)
        book.save(stream)
    except BaseException:
        _discard(book)
        raise


def write_workbook(document: ScanDocument, directory: Path) -> Path:
    """Write report.xlsx into `directory`, atomically, and return its path."""
    return write_atomic(directory / FILE_NAME, lambda stream: build_workbook(document, stream))
