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
from .findings import FINDINGS, analysis_sheets, findings_sheet
from .summary import summary_rows, summary_table
from .writer import DATE_FORMAT, Book, FastRows, Table, write_sheets

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


def build_workbook(document: ScanDocument, stream: IO[bytes],
                   integrity: Given = None, *, bulk: bool = True) -> None:
    """The whole workbook into `stream` (which write_workbook renames into place).

    XlsxWriter writes the package into the scratch folder, with the rows of the large sheets
    serialized beside it, and reports.excel.bulk splices them in on the way to `stream`: the
    same file XlsxWriter alone writes (`bulk=False`, which is also what happens if the
    package does not read back as expected), in a third of its time for 80,000 findings.
    """
    # XlsxWriter streams each sheet into a named temporary file and removes it once packed
    # into the workbook; after a failure it would stay, with the findings in it. In a folder
    # of our own, they all go whatever happens.
    with tempfile.TemporaryDirectory(prefix="aa-scan-xlsx-",
                                     ignore_cleanup_errors=True) as scratch:
        if not bulk:
            _write_package(document, stream, integrity, scratch, None)
            return
        package = Path(scratch) / "package.xlsx"
        with package.open("wb") as written:
            serialized = _write_package(document, written, integrity, scratch, Path(scratch))
        try:
            splice(package, serialized, stream)
        except SpliceError:  # nothing written yet: the slow way, exactly as it was
            _write_package(document, stream, integrity, scratch, None)


def _write_package(document: ScanDocument, stream: IO[bytes], integrity: Given,
                   scratch: str, rows: Path | None) -> list[BulkSheet]:
    """XlsxWriter's package of every sheet into `stream`; with `rows`, the large sheets' rows
    serialized into that folder instead (the sheets returned, for the splice)."""
    book = xlsxwriter.Workbook(stream, {
        "constant_memory": True, "tmpdir": scratch,
        # A string is always text: never a formula, a link or a number.
        "strings_to_formulas": False, "strings_to_urls": False,
        "strings_to_numbers": False, "default_date_format": DATE_FORMAT})
    book.set_properties({"title": "aa-scan: IAM Access Analyzer coverage",
                         "author": "aa-scan"})
    try:
        # The Summary, the first tab, is written last: what it states of scan.json is
        # asked for once every other sheet is written.
        serialized = write_sheets(book, sheets(document, integrity), rows, deferred=0)
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


def write_workbook(document: ScanDocument, directory: Path, *,
                   integrity: Given = None) -> Path:
    """Write report.xlsx into `directory`, atomically, and return its path."""
    return write_atomic(directory / FILE_NAME,
                        lambda stream: build_workbook(document, stream, integrity))
