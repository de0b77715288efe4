"""The workbook's engine: a `Table` (title, columns, cell style) and its rows in, one or more
streamed sheets out.

`write_sheets` registers the named `STYLES` once as cell formats, then a sheet writer streams
each table: column widths from the first rows, the header, frozen panes, filters, print
setup, row heights, continuation sheets past Excel's row limit ("Findings (2)", ...), and
the cell rules of reports.excel.cells. Rows are lists of plain values; `Styled(value,
style)` is a cell with its own look. The rows of a table without a cell style go to
reports.excel.bulk when the workbook gives it a scratch folder.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import textwrap
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any

from reports.document.rules import UNSAFE

from .bulk import BulkSheet, escaped
from .cells import (
    FORMULA_START,
    MAX_CELL_CHARS,
    SHORT,
    SLOW_START,
    clean_text,
    rich_lookalike,
)

# XlsxWriter's Workbook, Worksheet and Format (its package declares no types for mypy).
Book = Any
Sheet = Any
Format = Any

# Rows per sheet, header included (Excel's limit). Module constants so tests can lower them.
MAX_ROWS = 1_048_576
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


def status_style(key: str | None) -> str | None:
    """The style of a status, verdict or severity colour; None for any other value."""
    return f"aa-scan {key}" if key in _COLOURS else None


@dataclass(frozen=True, slots=True)
class Styled:
    """A value with its own cell style (status colours, totals)."""

    value: Any
    style: str | None


@dataclass(frozen=True)
class Markup:
    """Text XlsxWriter would write as rich text's XML (cells.rich_lookalike): written as
    the XML of rich text of one run holding the text, escaped here (`xml`), so the cell holds
    the very text. XlsxWriter writes that XML as it is, but for a literal "_xHHHH_", which
    it escapes once, as in any other string (its own runs would be escaped twice)."""

    text: str

    def xml(self) -> str | None:
        """The rich text's XML; None when it would not fit a cell."""
        xml = f'<r><t xml:space="preserve">{escaped(self.text)}</t></r>'
        return xml if len(xml) <= MAX_CELL_CHARS else None

# --- sheets -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """A column: its header and the widest it may be."""

    header: str
    max_width: int = 40


@dataclass(frozen=True)
class Table:
    """A sheet: its title, columns and how its cells look and print."""

    title: str
    columns: Sequence[Column]
    # Small sheets: every cell top-aligned and wrapped, rows as tall as their text. Large ones
    # (Findings) stay unstyled: plain values are what keeps 100,000 rows fast.
    cell_style: str | None = TEXT
    # Kept for the sheets that declare it: every sheet now prints one page wide (writer).
    fit_width: bool = True
    tab_color: str | None = None
    # Draws on the first sheet once its rows are written (rows written, header excluded).
    charts: Callable[[Book, Sheet, int], None] | None = None

    @property
    def headers(self) -> list[str]:
        """The column headers, in order."""
        return [c.header for c in self.columns]


# A row's cells as the sheet writer hands them to XlsxWriter: the plain values (one write_row),
# and the cells written apart with their formats (see _SheetWriter).
Cells = tuple[list[Any], list[tuple[int, Any, Format]]]


@dataclass(frozen=True)
class CellKit:
    """What a table's own cell maker needs of its sheet writer (see FastRows): the format of
    an unstyled sheet's booleans, the writer's rule for text that is long, unprintable or
    looks like a formula, and its own conversion of a row (for anything else)."""

    bool_format: Format
    text: Callable[[int, str, list[tuple[int, Any, Format]]], str | None]
    convert: Callable[[Sequence[Any]], Cells]  # the writer's own, for a row as rows are


@dataclass(frozen=True)
class FastRows:
    """The rows of a large, unstyled table given twice: as rows (what every writer reads),
    and as items with a maker of each item's cells at once (the rows' and _convert's work
    in one pass, for the bulk writer: reports.excel.findings). tests/reports hold the two
    equal, cell for cell, and the workbook XlsxWriter writes alone (from the rows) equal to
    the bulk writer's (from the cells)."""

    rows: Callable[[], Iterable[Sequence[Any]]]
    items: Sequence[Any]
    cells: Callable[[CellKit], Callable[[Any], Cells]]


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


# An A4 landscape page between 0.4" margins holds about 140 characters of 11-point Calibri
# (column widths are in those characters); fit to width, a sheet prints no smaller than
# MIN_PRINT_POINTS while its widths add up to no more than 140 x 11 / MIN_PRINT_POINTS.
PAGE_CHARACTERS = 140
MIN_PRINT_POINTS = 7


def pages_wide(widths: Sequence[float]) -> int:
    """How many pages wide a sheet of these column widths prints, so its text stays at
    MIN_PRINT_POINTS or more (1 for every sheet narrow enough)."""
    total = sum(_shown_width(w) for w in widths)
    return max(1, math.ceil(total * MIN_PRINT_POINTS / 11 / PAGE_CHARACTERS))


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
                 widths: Sequence[float], scratch: Path | None = None,
                 reserved: Sheet | None = None) -> None:
        self.book = book
        self.reserved = reserved  # the first sheet, added earlier (write_sheets' `deferred`)
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
        # A table without a cell style (Findings and the like: the large ones) has its rows
        # serialized by reports.excel.bulk when a scratch folder is given for them.
        self.scratch = scratch if table.cell_style is None else None
        self.bulk: list[BulkSheet] = []

    def _open(self) -> None:
        number = len(self.sheets) + 1
        title = self.table.title if number == 1 else f"{self.table.title} ({number})"
        ws = (self.reserved if number == 1 and self.reserved is not None
              else self.book.add_worksheet(title))
        for index, width in enumerate(self.widths):
            ws.set_column(index, index, _shown_width(width))
        ws.freeze_panes(1, 0)
        ws.repeat_rows(0)
        # Every sheet prints on A4 landscape, never as strips of columns on page after page
        # (issue 22: 97 pages of strips): one page wide where that keeps its 11-point text
        # at 7 points or more, else as few pages wide as do, with the first column repeated
        # on each (fitting "By resource type" or Regions to one page printed them at 3-5 pt).
        ws.set_landscape()
        ws.set_paper(9)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
        ws.fit_to_pages(pages_wide(self.widths), 0)
        if pages_wide(self.widths) > 1:
            ws.repeat_columns(0)
        ws.hide_gridlines(0)  # shown on screen and printed
        if self.table.tab_color:
            ws.set_tab_color(f"#{self.table.tab_color}")
        self.ws = ws
        self.sheets.append(ws)
        if self.scratch is not None:
            self.bulk.append(BulkSheet(title, self.scratch / f"rows-{id(ws)}.xml"))
        height = row_height(self.table.headers, [w * 0.9 for w in self.widths])  # bold
        if height:
            ws.set_row(0, height)
        header = self.formats.plain[HEADER]
        for index, text in enumerate(self.table.headers):
            ws.write_string(0, index, clean_text(text), header)
        self.rows_in_sheet = 1

    def _close(self) -> None:
        self.ws.autofilter(0, 0, self.rows_in_sheet - 1, len(self.table.columns) - 1)

    def write(self, rows: Iterable[Any], convert: Callable[[Any], Cells] | None = None
              ) -> int:
        """Every row (`convert`: each item's cells, made by the table; else rows, converted
        here)."""
        try:
            return self._write(rows, convert or self._convert)
        finally:
            for bulk in self.bulk:
                bulk.close()

    def kit(self) -> CellKit:
        """What a table's own cell maker needs of this writer (an unstyled table's)."""
        return CellKit(self.bool_format, self._str, self._convert)

    def _str(self, column: int, value: str, apart: list[tuple[int, Any, Format]]
             ) -> str | None:
        """_convert's rule for text that is long, unprintable or looks like a formula."""
        text = (clean_text(value) if len(value) > SHORT or UNSAFE.search(value) is not None
                else value)
        if value[:1] in FORMULA_START:
            apart.append((column, text, self.formats.quoted[self.base_style]))
            return None
        if rich_lookalike(text):
            apart.append((column, Markup(text), self.base))
            return None
        return text

    def _write(self, rows: Iterable[Any], convert: Callable[[Any], Cells]) -> int:
        limit = max(2, MAX_ROWS)
        self._open()
        written = 0
        write_row = self.ws.write_row
        wrapped = self.base_style is not None
        base = self.base
        take = self.bulk[-1].take if self.bulk else None
        for row in rows:
            if self.rows_in_sheet >= limit:
                self._close()
                self._open()
                write_row = self.ws.write_row
                take = self.bulk[-1].take if self.bulk else None
            index = self.rows_in_sheet
            if wrapped:
                height = row_height(row, self.widths)
                if height:
                    self.ws.set_row(index, height)
            values, apart = convert(row)
            if take is not None and take(index, values, apart):
                self.rows_in_sheet += 1
                written += 1
                continue
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
        elif isinstance(value, Markup):
            xml = value.xml()
            if xml is not None:
                self.ws.write_string(row, column, xml, cell_format)
            else:  # too long once escaped: runs that no "_xHHHH_" spans (XlsxWriter asks
                # for three at least), each shown as it is
                runs = [run for run in (value.text[:1], value.text[1:2],
                                        *re.split(r"(?<=_)(?=x)", value.text[2:])) if run]
                self.ws.write_rich_string(row, column, *runs,
                                          *([cell_format] if cell_format is not None else []))
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
                if (len(value) > SHORT or value[:1] in SLOW_START
                        or not value.isprintable()):
                    value = self._str(column, value, apart)
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

    def _text(self, value: str, style: str | None) -> tuple[str | Markup, Format]:
        text = clean_text(value)
        if value[:1] in FORMULA_START:
            return text, self.formats.quoted[style]
        cell_format = self.formats.plain[style] if style else None
        return (Markup(text) if rich_lookalike(text) else text), cell_format


def _write_table(book: Book, formats: _Formats, table: Table,
                 rows: Iterable[Sequence[Any]] | FastRows, scratch: Path | None,
                 reserved: Sheet | None = None) -> list[BulkSheet]:
    fast = rows if isinstance(rows, FastRows) else None
    iterator = iter(rows.rows() if isinstance(rows, FastRows) else rows)
    sample = list(islice(iterator, WIDTH_SAMPLE_ROWS))
    writer = _SheetWriter(book, formats, table, column_widths(table, sample), scratch,
                          reserved)
    if fast is not None and writer.scratch is not None:  # the bulk writer: cells at once
        writer.write(fast.items, fast.cells(writer.kit()))
    else:
        writer.write(chain(sample, iterator))
    return writer.bulk


def write_sheets(book: Book,
                 sheets: Sequence[tuple[Table, Iterable[Sequence[Any]] | FastRows]],
                 scratch: Path | None = None, deferred: Collection[int] = (),
                 later: Callable[[], Sequence[tuple[Table, Iterable[Sequence[Any]] | FastRows]]]
                 | None = None) -> list[BulkSheet]:
    """Every table into `book`, in order, its rows streamed: the styles are registered as cell
    formats once, then each table is one sheet (or more, past MAX_ROWS). With `scratch`, the
    rows of tables without a cell style are serialized there (reports.excel.bulk), to be
    spliced into the package once `book` is closed: the sheets returned. `deferred`: the
    indexes of tables whose sheets are added in their places but written after all the
    others, from `later()` when given (the same tables, of the document as it is by then:
    what they state is known only then)."""
    formats = _Formats.register(book)
    bulk: list[BulkSheet] = []
    reserved: dict[int, Sheet] = {}
    for index, (table, rows) in enumerate(sheets):
        if index in deferred:
            reserved[index] = book.add_worksheet(table.title)
            continue
        bulk += _write_table(book, formats, table, rows, scratch)
    if reserved:
        final = later() if later is not None else sheets
        for index, sheet in reserved.items():
            table, rows = final[index]
            if table.title != sheets[index][0].title:
                raise ValueError(f"{table.title}: not the sheet {sheets[index][0].title} "
                                 "was reserved for")
            bulk += _write_table(book, formats, table, rows, scratch, sheet)
    return bulk
