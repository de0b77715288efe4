"""Review of the faster workbook: what the cells state against what scan.json states."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook

from reports.document.derive import derive
from reports.excel import workbook
from tests.builders import MEMBER, covered, finding, make_document


def test_an_account_name_that_looks_like_rich_text_is_stated_as_it_is():
    """An account's name is the account's to set (account:PutAccountName: any printable
    ASCII, up to 50 characters). XlsxWriter's constant-memory mode writes a string that
    starts with "<r>" and ends with "</r>" into the sheet's XML as it is (rich text), and the
    bulk writer hands such a string to XlsxWriter on purpose (bulk._text, _Route): the Findings
    and By account sheets state the owner "xtrusted-audit", scan.json the name below; a name
    with other markup puts cells of its own into the sheet."""
    name = "<r><t>x</t></r><r><t>trusted-audit</t></r>"
    _, owners = owned_by(name)
    assert owners == [name] * 3


def owned_by(name: str, findings: int = 3) -> tuple[Any, list[str]]:
    """The workbook of `findings` findings of an account named `name`, and the Findings
    sheet's "Owner name" cells (as openpyxl reads them: stored text)."""
    records = [finding(resource=f"arn:aws:s3:::b{i}", owner=MEMBER) for i in range(findings)]
    document = make_document([covered(findings=records)])
    document["organization"]["accounts"] = {MEMBER: name}
    stream = io.BytesIO()
    workbook.build_workbook(derive(document), stream)
    book = load_workbook(io.BytesIO(stream.getvalue()), read_only=True)
    rows = list(book["Findings"].iter_rows(values_only=True))
    owner = rows[0].index("Owner name")
    return book, [row[owner] for row in rows[1:]]
