"""The closed set of output formats and the writer of each."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from reports.document.schema import ScanDocument

if TYPE_CHECKING:  # the writers import it when they run
    from reports.document.pack import Integrity


class Writer(Protocol):
    """Writes one format of the document into a folder, returns the path; `integrity`: the
    pack the file is written into, for the reports that show it."""

    def __call__(
        self, document: ScanDocument, directory: Path, *, integrity: Integrity | None = None
    ) -> Path: ...


class LateWriter(Protocol):
    """A writer that can also be given its `integrity` as a call it makes when it comes to
    it, and `final`, the document as it will be once the history has compared it (`document`
    is the one it began as): the workbook, written by a child process while the history
    compares the run and scan.json (whose SHA-256 it states) is written
    (scanner.background)."""

    def __call__(
        self, document: ScanDocument, directory: Path, *,
        integrity: Integrity | Callable[[], Integrity | None] | None = None,
        final: Callable[[], ScanDocument] | None = None
    ) -> Path: ...


class OutputFormat(StrEnum):
    JSON = "json"
    HTML = "html"
    XLSX = "xlsx"
    OCSF = "ocsf"  # findings.ocsf.json: OCSF Compliance and Detection Findings
    JUNIT = "junit"  # junit.xml: a test case per region and organization check


# Imported on use: the workbook writer pulls in XlsxWriter and the page writer jinja2, which a
# coverage check that only prints a table should not pay for.
WRITERS: Mapping[OutputFormat, str] = {
    OutputFormat.JSON: "reports.json_report:write_json",
    OutputFormat.HTML: "reports.html:write_html",
    OutputFormat.XLSX: "reports.excel:write_workbook",
    OutputFormat.OCSF: "reports.ocsf:write_ocsf",
    OutputFormat.JUNIT: "reports.junit:write_junit",
}


def writer_for(output_format: OutputFormat) -> Writer:
    """The function that writes one format into a folder and returns the path it wrote."""
    module, name = WRITERS[output_format].split(":")
    writer: Writer = getattr(import_module(module), name)
    return writer


# The writers that are LateWriters: each module's FILE_NAME is the file it writes.
LATE: frozenset[OutputFormat] = frozenset({OutputFormat.XLSX})


def late_writer_for(output_format: OutputFormat) -> LateWriter:
    """The writer of one of the LATE formats (see LateWriter)."""
    if output_format not in LATE:
        raise ValueError(f"{output_format.value} is not written late")
    module, name = WRITERS[output_format].split(":")
    writer: LateWriter = getattr(import_module(module), name)
    return writer


def late_file(output_format: OutputFormat) -> str:
    """The name of the file one of the LATE writers writes into the run folder."""
    if output_format not in LATE:
        raise ValueError(f"{output_format.value} is not written late")
    name: str = import_module(WRITERS[output_format].split(":")[0]).FILE_NAME
    return name


def load_writers(formats: tuple[OutputFormat, ...]) -> None:
    """Import the writers of `formats`, and compile the page's template: what a live scan
    does while it waits on the network, so that writing the reports after it does not pay
    for it (XlsxWriter, jinja2 and the template: about half a second of CPU)."""
    for output_format in formats:
        writer_for(output_format)
    if OutputFormat.HTML in formats:
        page = import_module("reports.html.page")
        page.environment().get_template(page.TEMPLATE)
