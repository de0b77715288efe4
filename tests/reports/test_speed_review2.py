"""Second review of the speed review's fixes: text that looks like XlsxWriter's rich text."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook

from reports.document.derive import derive
from reports.excel import workbook
from tests.builders import covered, finding, make_document

from .test_speed_review import owned_by

# OOXML's escape of stored text (ECMA-376 22.4.2.4): _xHHHH_ is the character HHHH, and a
# literal "_xHHHH_" is stored with its underscore escaped (_x005F_). openpyxl gives the
# stored text; this is what Excel and LibreOffice show.
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _shown(stored: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), stored)


def test_a_rich_text_lookalike_with_a_literal_escape_is_stated_as_it_is():
    """A name that starts with "<r>" and ends with "</r>" is written as rich text
    (writer.Markup). Given as XlsxWriter's own runs, a literal "_xHHHH_" in it was escaped
    twice (once in the run, again over the whole string): the cell held
    _x005F_x005F_x0041_, which Excel and LibreOffice show as "<r>_x005F_x0041_</r>", not
    the account's name. The same text without the <r> markers reads back exact. An account
    name is any printable ASCII up to 50 characters."""
    name = "<r>_x0041_</r>"
    book, owners = owned_by(name)
    assert [_shown(owner) for owner in owners] == [name] * 3
    stated = [_shown(value) for sheet in book.worksheets
              for row in sheet.iter_rows(values_only=True) for value in row
              if isinstance(value, str) and "x0041" in value]
    assert stated and set(stated) == {name}


def test_a_literal_escape_without_the_markers_is_stated_as_it_is():
    """The control: the same name without the <r> markers (a plain inline string)."""
    name = "r_x0041_/r"
    _, owners = owned_by(name, findings=1)
    assert [_shown(owner) for owner in owners] == [name]


def test_a_lookalike_too_long_to_escape_in_one_cell_is_written_as_runs_of_its_text():
    """Escaped into one run's XML, a lookalike of 9,000 "<" would pass a cell's 32,767
    characters: it is written as runs that no "_xHHHH_" spans, which hold the text as it is
    (LibreOffice shows it exactly, checked by hand), one cell, nothing of it as markup."""
    name = "<r>" + "<" * 9_000 + "_x0041_</r>"
    findings = [finding(resource=name), finding(resource="arn:aws:s3:::next")]
    stream = io.BytesIO()
    workbook.build_workbook(derive(make_document([covered(findings=findings)])), stream)
    rows = list(load_workbook(io.BytesIO(stream.getvalue()), read_only=True)["Findings"]
                .iter_rows(values_only=True))
    resource = rows[0].index("Resource")
    assert [row[resource] for row in rows[1:]] == [name, "arn:aws:s3:::next"]
    assert all(len(row) == len(rows[0]) for row in rows)
