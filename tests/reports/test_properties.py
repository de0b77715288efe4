"""Property: every writer survives arbitrary text from AWS (any unicode, control characters,
lone surrogates, markup, formula prefixes) and keeps it inert."""

from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports.console import render_console
from reports.document.derive import derive
from reports.document.schema import validate
from reports.formats import OutputFormat, writer_for
from scanner.model import ApiError
from tests.builders import analyzer, finding, make_document, organization, region_scan

# Any code point, surrogates included (a JSON "\ud800" escape decodes to one), biased towards
# the characters that break things.
anything = st.characters(exclude_categories=())
nasty = st.sampled_from(["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "=1+1",
                         "+SUM(A1)", "-2", "@cmd", "\t=1", "\r=1", "\x00", "\x1b[31m", "\u202e",
                         "\ud800", "_x0041_", "&amp;", "{{ 7*7 }}", "\n"])
text = st.lists(st.one_of(st.text(anything, max_size=12), nasty), max_size=4).map("".join)


def hostile_document(values: list[str]) -> dict:
    v = (values * 8)[:8]
    findings = [finding(resource=v[0], principal={v[1] or "AWS": v[2]}, action=[v[3]],
                        condition={v[4] or "k": v[5]}, error=v[6] or None, owner=v[7] or None)]
    regions = [
        region_scan("us-east-1", [analyzer(name="org")], findings),
        region_scan("eu-west-1", error=ApiError(v[0] or "Code", v[1], "ListAnalyzers")),
        region_scan("sa-east-1", excluded=v[2] or "reason"),
    ]
    return make_document(regions, org=organization(accounts={"333333333333": v[3]}))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(text, min_size=1, max_size=8))
def test_every_writer_survives_arbitrary_text(values):
    document = derive(hostile_document(values))
    validate(document)
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        paths = {fmt: writer_for(fmt)(document, directory) for fmt in OutputFormat}
        # scan.json is valid UTF-8 JSON and reads back to the same document.
        raw = paths[OutputFormat.JSON].read_bytes()
        assert json.loads(raw.decode("utf-8")) == json.loads(json.dumps(document))
        # The page: valid UTF-8, no live markup from the data, no script at all.
        page = paths[OutputFormat.HTML].read_bytes().decode("utf-8")
        assert "<script" not in page.lower() and "<img" not in page.lower()
        # The workbook: no formula anywhere.
        with zipfile.ZipFile(paths[OutputFormat.XLSX]) as archive:
            for name in archive.namelist():
                if name.startswith("xl/worksheets/"):
                    assert not re.search(rb"<f[ >]", archive.read(name)), name
        assert not list(directory.glob("*.partial")) and not list(directory.glob(".*partial"))
    # The terminal table: printable, no escape sequences, encodable.
    console = render_console(document)
    assert "\x1b" not in console and "\u202e" not in console
    io.TextIOWrapper(io.BytesIO(), encoding="utf-8").write(console)
