"""report.xlsx: the sheets in order, built into one workbook and renamed into place."""

from __future__ import annotations

import tempfile
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import xlsxwriter
from xlsxwriter.exceptions import FileCreateError
from xlsxwriter.utility import xl_col_to_name

from reports.document.pack import Integrity
from reports.document.schema import ScanDocument

from .. import tables
from ..files import write_atomic
from .bulk import BulkSheet, SpliceError, splice
from .changes import AGES, CHANGES, TREND, age_rows, change_rows, trend_rows
from .coverage import (
    ARCHIVE_RULES,
    ERRORS,
    GAPS,
    REGIONS,
    account_rows,
    account_table,
    archive_rule_rows,
    error_rows,
    gap_rows,
    member_rows,
    member_table,
    region_rows,
    type_rows,
    type_table,
)
from .exceptions import EXCEPTIONS, exception_rows
from .findings import AGE_COLUMN, FINDINGS, age_days, analysis_sheets, findings_sheet
from .summary import SUMMARY, summary_rows, summary_table
from .writer import DATE_FORMAT, MAX_ROWS, Book, FastRows, Table, write_sheets

FILE_NAME = "report.xlsx"


# The integrity box states scan.json's SHA-256; the workbook may be written while scan.json is
# (scanner.background), so it can be given as a call that waits for it.
Given = Integrity | Callable[[], Integrity | None] | None


def sheets(document: ScanDocument, integrity: Given = None
           ) -> list[tuple[Table, Iterable[Sequence[Any]] | FastRows]]:
    """Every table of the workbook, in order, with its rows (lazily: the Summary's ask for
    `integrity` when they come to it, which build_workbook makes the last rows written)."""
    types = tables.resource_types(document)
    return [
        (summary_table(document), _summary(document, integrity)),
        (CHANGES, change_rows(document)),
        (GAPS, gap_rows(document)),
        (EXCEPTIONS, exception_rows(document)),
        (REGIONS, region_rows(document)),
        (FINDINGS, findings_sheet(document)),
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


def _summary(document: ScanDocument, integrity: Given) -> Iterator[list[Any]]:
    yield from summary_rows(document, integrity() if callable(integrity) else integrity)


def _abandon(book: Book) -> None:
    """After a failure, let XlsxWriter close the files each sheet has been streaming into.
    XlsxWriter has no public call to abandon a workbook; closing it is the public way (it
    writes what it has into the stream, a temporary file that write_atomic then removes; a
    second failure there changes nothing: build_workbook removes the files all the same)."""
    with suppress(Exception):
        book.close()


# The sheets that state what the history's comparison of the run says (its changes, the
# trend, the findings' ages), the integrity box, or what `derive` computes from the final
# document (the Summary's scope and controls, the archive rules' classes): written after all
# the others, from the final document, though their tabs stay in their places
# (write_sheets' `deferred`).
DEFERRED = frozenset({SUMMARY.title, CHANGES.title, AGES.title, TREND.title,
                      ARCHIVE_RULES.title})


def build_workbook(document: ScanDocument, stream: IO[bytes],
                   integrity: Given = None, *, bulk: bool = True,
                   final: Callable[[], ScanDocument] | None = None) -> None:
    """The whole workbook into `stream` (which write_workbook renames into place).

    XlsxWriter writes the package into the scratch folder, with the rows of the large sheets
    serialized beside it, and reports.excel.bulk splices them in on the way to `stream`: the
    same parts XlsxWriter alone writes (`bulk=False`, which is also what happens if the
    package does not read back as expected), in a third of its time for 80,000 findings.

    `final`: the document as it will be once the history has compared the run (`document`
    is the one it began as; scanner.pipeline's early workbook), asked for when the sheets
    that depend on it come: the DEFERRED sheets are written from it, and the Findings
    sheet, written from `document`, gets the ages the comparison carried over
    (`_carried_ages`). The same parts as one written from the final document alone; where
    that cannot be made sure, it is written again from it.
    """
    resolved = final or (lambda: document)
    # XlsxWriter streams each sheet into a named temporary file and removes it once packed
    # into the workbook; after a failure it would stay, with the findings in it. In a folder
    # of our own, they all go whatever happens.
    with tempfile.TemporaryDirectory(prefix="aa-scan-xlsx-",
                                     ignore_cleanup_errors=True) as scratch:
        if not bulk:
            _write_package(resolved(), stream, integrity, scratch, None)
            return
        package = Path(scratch) / "package.xlsx"
        with package.open("wb") as written:
            serialized = _write_package(document, written, integrity, scratch, Path(scratch),
                                        final)
        try:
            if final is not None:
                _carried_ages(document, resolved(), serialized)
            splice(package, serialized, stream)
        except SpliceError:  # nothing written yet: the slow way, exactly as it was
            _write_package(resolved(), stream, integrity, scratch, None)


def _write_package(document: ScanDocument, stream: IO[bytes], integrity: Given,
                   scratch: str, rows: Path | None,
                   final: Callable[[], ScanDocument] | None = None) -> list[BulkSheet]:
    """XlsxWriter's package of every sheet into `stream`; with `rows`, the large sheets' rows
    serialized into that folder instead (the sheets returned, for the splice). The DEFERRED
    sheets come last, from `final()` when given."""
    book = xlsxwriter.Workbook(stream, {
        "constant_memory": True, "tmpdir": scratch,
        # A string is always text: never a formula, a link or a number.
        "strings_to_formulas": False, "strings_to_urls": False,
        "strings_to_numbers": False, "default_date_format": DATE_FORMAT})
    book.set_properties({"title": "aa-scan: IAM Access Analyzer coverage",
                         "author": "aa-scan"})
    try:
        now = sheets(document, integrity)
        deferred = [i for i, (table, _) in enumerate(now) if table.title in DEFERRED]
        later = (lambda: sheets(final(), integrity)) if final is not None else None
        serialized = write_sheets(book, now, rows, deferred, later)
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
    return serialized


def _carried_ages(before: ScanDocument, after: ScanDocument,
                  serialized: Sequence[BulkSheet]) -> None:
    """The Findings sheet written from `before`, made the one `after` makes: the comparison
    changes a finding only by the earliest createdAt it carried over (`first_seen_at`), so
    only its age cell changes, and is patched in the splice. Anything else (another change,
    an age that was not there, a sheet continued past Excel's rows) raises SpliceError: the
    workbook is written again from `after`."""
    old, new = before["findings"], after["findings"]
    if len(old) != len(new) or before["started_at"] != after["started_at"]:
        raise SpliceError("the findings changed")
    changed = [i for i, (o, n) in enumerate(zip(old, new, strict=True)) if o is not n and o != n]
    if not changed:
        return
    sheet = next((s for s in serialized if s.title == FINDINGS.title), None)
    if sheet is None or len(old) + 1 >= MAX_ROWS:
        raise SpliceError("the Findings sheet is not one bulk sheet")
    column = xl_col_to_name(AGE_COLUMN)
    for index in changed:
        was, now = old[index], new[index]
        if {k: v for k, v in was.items() if k != "first_seen_at"} != {
                k: v for k, v in now.items() if k != "first_seen_at"}:
            raise SpliceError("a finding changed more than its first sighting")
        age_before = age_days(before["started_at"], was)
        age_after = age_days(after["started_at"], now)
        if age_before == age_after:
            continue
        if age_before is None or age_after is None:
            raise SpliceError("an age cell appears or goes")
        row = index + 2  # the header is row 1
        sheet.patch(row, f'<c r="{column}{row}"><v>{age_before:.16G}</v></c>',
                    f'<c r="{column}{row}"><v>{age_after:.16G}</v></c>')


def write_workbook(document: ScanDocument, directory: Path, *,
                   integrity: Given = None,
                   final: Callable[[], ScanDocument] | None = None) -> Path:
    """Write report.xlsx into `directory`, atomically, and return its path (`final`: see
    build_workbook)."""
    return write_atomic(directory / FILE_NAME,
                        lambda stream: build_workbook(document, stream, integrity,
                                                      final=final))
