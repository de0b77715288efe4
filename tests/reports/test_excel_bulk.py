"""The large sheets' rows serialized beside XlsxWriter (reports.excel.bulk) make the same
workbook, byte for byte, as XlsxWriter alone; and what cannot be read back falls back to it."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import zipfile
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from reports.document.derive import derive
from reports.excel import bulk, workbook, writer
from reports.excel.writer import Column, Styled, Table
from tests.builders import covered, finding, make_document

from .test_analyses_reports import analyses_document
from .test_excel import HOSTILE, every_kind_document, hostile_document

_CREATED = re.compile(rb"<dcterms:(created|modified)[^>]*>[^<]*<")


def members(data: bytes) -> list[tuple[str, bytes]]:
    """Each part of a workbook and its bytes; the creation time (XlsxWriter's clock) blanked."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, _CREATED.sub(b"<", archive.read(info)))
                for info in archive.infolist()]


def both(document: dict) -> tuple[bytes, bytes]:
    """The workbook with the rows serialized beside XlsxWriter, and by XlsxWriter alone."""
    fast, slow = io.BytesIO(), io.BytesIO()
    workbook.build_workbook(document, fast)
    workbook.build_workbook(document, slow, bulk=False)
    return fast.getvalue(), slow.getvalue()


def assert_same_workbook(document: dict) -> None:
    fast, slow = both(document)
    assert members(fast) == members(slow)
    # and the container: the same part headers (names, times, sizes, modes), part for part
    with zipfile.ZipFile(io.BytesIO(fast)) as a, zipfile.ZipFile(io.BytesIO(slow)) as b:
        assert [(i.filename, i.date_time, i.compress_type, i.external_attr, i.flag_bits)
                for i in a.infolist()] == [
            (i.filename, i.date_time, i.compress_type, i.external_attr, i.flag_bits)
            for i in b.infolist()]


@pytest.mark.parametrize("make", [every_kind_document, hostile_document,
                                  lambda: analyses_document(HOSTILE)],
                         ids=["every kind", "hostile", "analyses"])
def test_the_same_workbook_as_xlsxwriter_alone(make):
    assert_same_workbook(derive(make()))


def test_the_same_with_unsafe_long_and_spaced_values():
    values = ["bucket\x00-\x07one\ud800\ufffe", "a\tb\nc", " lead", "trail ", "\u00a0nbsp",
              "_x0041_ literal", "x" * 40_000, "\r" * 20_000, "<r>rich?</r>", "<r>open",
              "a & b <c> \"d\"", "=1+1", "", "é€😀"]
    findings = [finding(resource=v, error=v or None, condition={"k": v}) for v in values]
    assert_same_workbook(derive(make_document([covered(findings=findings)])))


def test_the_same_across_continuation_sheets(monkeypatch):
    monkeypatch.setattr(writer, "MAX_ROWS", 4)
    findings = [finding(is_public=i % 3 == 0, error="E" if i == 4 else None,
                        resource="=x" if i == 5 else f"r{i}") for i in range(11)]
    assert_same_workbook(derive(make_document([covered(findings=findings)])))


MIXED = st.one_of(
    st.none(), st.text(max_size=12), st.sampled_from(["", " ", "=a", "-1", "_x0000_", "<r>x</r>"]),
    st.integers(-(10**20), 10**20), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1899, 12, 1), max_value=dt.datetime(2200, 1, 1)),
    st.datetimes(timezones=st.just(dt.UTC)), st.dates(),
    st.builds(Styled, st.one_of(st.text(max_size=5), st.integers(), st.booleans()),
              st.sampled_from([None, writer.TEXT, writer.DATE, writer.BOOL])))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(MIXED, min_size=0, max_size=5), min_size=1, max_size=12))
def test_any_rows_of_a_table_without_a_cell_style(rows):
    table = Table("Bulk", [Column(f"c{i}") for i in range(5)], cell_style=None)
    original = workbook.sheets

    def sheets(document, integrity=None):
        return [(table, rows), *original(document, integrity)[:1]]

    workbook.sheets = sheets
    try:
        assert_same_workbook(derive(make_document([covered()])))
    finally:
        workbook.sheets = original


def test_a_rich_text_lookalike_holding_row_markup_stays_one_cell(monkeypatch):
    """XlsxWriter writes a string that starts with "<r>" and ends with "</r>" into the sheet
    as it is (its rich text); one holding a row's markup made rows of its own. Written as
    rich text of escaped runs instead (writer.Markup), it is the cell's very text, and the
    rows read back: the splice is not refused, and the workbook is XlsxWriter's alone."""
    sly = '<r></t></is></c></row><row r="3"></r>'
    findings = [finding(resource="a"), finding(resource="b", is_public=True),
                finding(resource=sly), finding(resource="c")]
    document = derive(make_document([covered(findings=findings)]))
    refused = []
    original = bulk.BulkSheet.read_back

    def read_back(self, written):
        try:
            return original(self, written)
        except bulk.SpliceError as error:
            refused.append(error)
            raise

    monkeypatch.setattr(bulk.BulkSheet, "read_back", read_back)
    fast, slow = both(document)
    assert refused == []
    assert members(fast) == members(slow)
    rows = list(load_workbook(io.BytesIO(fast), read_only=True)["Findings"]
                .iter_rows(values_only=True))
    resource = rows[0].index("Resource")
    assert [row[resource] for row in rows[1:]] == ["a", "b", sly, "c"]


def test_most_rows_are_serialized_and_the_workbook_reads_back(tmp_path):
    findings = [finding(resource=f"arn:aws:s3:::b{i}", is_public=i % 2 == 0) for i in range(50)]
    document = derive(make_document([covered(findings=findings)]))
    taken = []
    original = bulk.BulkSheet.take

    def take(self, index, values, apart):
        result = original(self, index, values, apart)
        if self.title == "Findings":
            taken.append(result)
        return result

    bulk.BulkSheet.take = take
    try:
        path = workbook.write_workbook(document, tmp_path)
    finally:
        bulk.BulkSheet.take = original
    assert taken.count(False) <= 2 and taken.count(True) >= 48  # XlsxWriter's: the first two
    ws = load_workbook(path)["Findings"]
    assert [row[2].value for row in ws.iter_rows(min_row=2)] == [f["resource"] for f in findings]
    assert ws.max_row == 51


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=5000), st.lists(st.integers(1, 700), max_size=12),
       st.sampled_from([1, 64, 333, 1024]))
def test_parallel_deflate_is_one_deflate_stream(data, cuts, chunk):
    """Chunks compressed apart, each primed with the window before it and ended on a byte
    boundary, make one raw deflate stream of the whole, whatever the writes' sizes."""
    from concurrent.futures import ThreadPoolExecutor

    class Small(bulk.ParallelDeflate):
        CHUNK = chunk
        AHEAD = 2

    with ThreadPoolExecutor(2) as pool:
        deflate = Small(pool)
        out, at = [], 0
        for cut in cuts:
            out.append(deflate.compress(data[at:at + cut]))
            at += cut
        out.append(deflate.compress(data[at:]))
        out.append(deflate.flush())
    assert zlib.decompress(b"".join(out), -15) == data


def test_parallel_deflate_reaches_back_across_chunks():
    """Primed with the 32 KiB before it, a chunk of text already seen compresses as one
    compressor's would (unprimed, each 64 KiB chunk of a repeated 20 KiB block would cost
    a whole block of literals again: three times the size)."""
    from concurrent.futures import ThreadPoolExecutor

    block = random.Random(7).randbytes(10_000).hex().encode()  # 20,000 bytes
    data = block * 8

    class Small(bulk.ParallelDeflate):
        CHUNK = 64 * 1024

    with ThreadPoolExecutor(2) as pool:
        deflate = Small(pool)
        parallel = deflate.compress(data) + deflate.flush()
    serial = zlib.compress(data, 6)
    assert zlib.decompress(parallel, -15) == data
    assert len(parallel) < 1.05 * len(serial)


def test_a_workbook_deflated_in_chunks_reads_back_whole(monkeypatch):
    """The Findings sheet in many chunks on several threads: the same parts, CRCs right."""
    monkeypatch.setattr(bulk.ParallelDeflate, "CHUNK", 4096)
    monkeypatch.setattr(bulk, "_threads", lambda: 3)
    findings = [finding(resource=f"arn:aws:s3:::bucket-{n}", is_public=n % 3 == 0)
                for n in range(400)]
    document = derive(make_document([covered(findings=findings)]))
    fast, slow = both(document)
    assert members(fast) == members(slow)
    with zipfile.ZipFile(io.BytesIO(fast)) as archive:
        assert archive.testzip() is None
        sizes = {i.filename: i.file_size for i in archive.infolist()}
    assert max(sizes.values()) > 10 * 4096  # the sheet did span many chunks


# What a finding of scan.json may hold that the Findings sheet's cells must survive: text
# that is long, unprintable, spaced or formula-like; times in every shape parse_time reads
# (and some it does not); public or not or unknown; an exception accepting it; an age
# carried over from an earlier analyzer.
_TEXT = st.one_of(st.sampled_from(["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)", "\tTab",
                                   "\rCR", "#REF!", "x" * 40_000, "_x0041_", " lead",
                                   "a\x00b", "\ud800", "é€😀", ""]),
                  st.text(max_size=30))
_TIME = st.one_of(
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1))
    .map(lambda d: d.isoformat() + "Z"),
    # An offset near year 1 or 9999 leaves datetime's range once in UTC (the schema holds
    # scan.json's times to "...Z"; parse_time reads more): from 1900 to 2100.
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1),
                 timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5Z", "2026-01-01Z",
                     "2026-01-01", "2026-01-01T00:00:00+02:00Z", "Z", "ZZ", "not a time",
                     "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T24:00:00Z"]))
_EXCEPTION = st.fixed_dictionaries({
    "key": _TEXT, "reason": _TEXT, "owner": _TEXT, "expires": st.just("2027-01-01"),
    "ticket": st.one_of(st.none(), _TEXT), "state": st.sampled_from(["active", "expiring"])})


@st.composite
def _findings(draw):
    record = finding(resource=draw(st.one_of(st.none(), _TEXT)),
                     owner=draw(st.sampled_from([None, "111111111111", "222222222222"])),
                     is_public=draw(st.booleans()), error=draw(st.one_of(st.none(), _TEXT)),
                     principal=draw(st.dictionaries(_TEXT, _TEXT, max_size=2)),
                     action=draw(st.lists(_TEXT, max_size=3)),
                     condition=draw(st.dictionaries(_TEXT, _TEXT, max_size=2)),
                     region=draw(st.sampled_from(["us-east-1", "=eu-west-1"])))
    record["is_public"] = draw(st.sampled_from([True, False, None]))
    for key in ("created_at", "updated_at", "analyzed_at"):
        record[key] = draw(st.one_of(_TIME, st.none())) if key != "created_at" \
            else draw(_TIME)
    if draw(st.booleans()):
        record["first_seen_at"] = draw(st.one_of(_TIME, st.just("")))
    if draw(st.booleans()):
        record["exception"] = draw(_EXCEPTION)
    record["status"] = draw(st.sampled_from(["ACTIVE", "ARCHIVED", "=RESOLVED"]))
    return record


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_findings(), min_size=1, max_size=4),
       st.sampled_from(["2026-02-01T00:00:00Z", "2026-02-01T00:00:00+05:00", "garbage"]))
def test_finding_cells_are_what_the_writer_makes_of_the_rows(records, started_at):
    """The bulk writer's cells of a finding, made at once (findings.finding_cells), are the
    cells the sheet writer makes of finding_rows' row (its _convert), value for value."""
    import io as _io

    import xlsxwriter

    from reports.excel import findings as sheet

    document = make_document([covered(findings=records)])
    document["started_at"] = started_at
    document["organization"]["accounts"] = {"111111111111": "=named", "222222222222": ""}
    book = xlsxwriter.Workbook(_io.BytesIO(), {"constant_memory": True})
    formats = writer._Formats.register(book)
    sheet_writer = writer._SheetWriter(book, formats, sheet.FINDINGS, [10.0] * 19)
    cells = sheet.finding_cells(document, sheet_writer.kit())
    expected = [sheet_writer._convert(row) for row in sheet.finding_rows(document)]
    assert [cells(f) for f in document["findings"]] == expected
    book.close()


# -- the workbook begun before the history's comparison (scanner.pipeline's early workbook) --

def _compared(before: dict, first_seen: dict[int, str]) -> dict:
    """`before` as the history's comparison leaves it: the findings at `first_seen` given the
    earliest createdAt of their grant (new dicts; the others shared), the findings' ages
    computed again, then derived (what the pipeline gives the early workbook)."""
    from scanner.history.analysis import finding_age

    after = dict(before)
    after["findings"] = [{**f, "first_seen_at": first_seen[i]} if i in first_seen else f
                         for i, f in enumerate(before["findings"])]
    after["finding_age"] = finding_age(after)
    return derive(after)


def _early_and_final(before: dict, after: dict, monkeypatch) -> tuple[bytes, bytes, int]:
    """The workbook begun from `before` and finished from `after`; the one written from
    `after` alone; how many packages the first took (2: it was written again)."""
    packages = []
    original = workbook._write_package

    def counted(*args, **kwargs):
        packages.append(1)
        return original(*args, **kwargs)

    early, alone = io.BytesIO(), io.BytesIO()
    monkeypatch.setattr(workbook, "_write_package", counted)
    workbook.build_workbook(before, early, final=lambda: after)
    taken = len(packages)
    monkeypatch.setattr(workbook, "_write_package", original)
    workbook.build_workbook(after, alone)
    return early.getvalue(), alone.getvalue(), taken


def test_a_workbook_begun_before_the_comparison_is_the_one_written_after_it(monkeypatch):
    """Begun from the scan's document (not derived yet), finished once the comparison is
    known: the Findings ages it carried over are patched in, in rows XlsxWriter wrote (the
    first) and in serialized ones, the sheets that state the comparison or `derived` are
    written from the final document. The same file, written once."""
    findings = [finding(resource=f"arn:aws:s3:::b-{n}", is_public=n % 4 == 0)
                for n in range(1_200)]
    before = make_document([covered(findings=findings)])
    first_seen = {0: "2020-01-01T00:00:00Z", 1: "2021-06-01T12:00:00Z",
                  700: "2019-03-03T03:03:03Z", 1_199: "2018-01-01T00:00:00Z"}
    after = _compared(before, first_seen)
    early, alone, taken = _early_and_final(before, after, monkeypatch)
    assert members(early) == members(alone)
    assert taken == 1  # patched, not written again
    ages = [row[12] for row in load_workbook(io.BytesIO(early), read_only=True)["Findings"]
            .iter_rows(min_row=2, values_only=True)]
    assert ages[0] > ages[2] and ages[1_199] > ages[700] > ages[699]


@pytest.mark.parametrize("change", ["age appears", "resource", "one more finding"])
def test_what_a_patch_cannot_make_is_written_again_from_the_final_document(monkeypatch,
                                                                           change):
    findings = [finding(resource=f"arn:aws:s3:::b-{n}") for n in range(50)]
    before = make_document([covered(findings=findings)])
    if change == "age appears":  # no createdAt: no age cell, until one is carried over
        before["findings"][3] = {**before["findings"][3], "created_at": None}
        after = _compared(before, {3: "2020-01-01T00:00:00Z"})
    elif change == "resource":
        after = _compared(before, {})
        after["findings"] = list(after["findings"])
        after["findings"][5] = {**after["findings"][5], "resource": "arn:aws:s3:::other"}
    else:
        after = _compared(before, {})
        after["findings"] = [*after["findings"], finding(resource="arn:aws:s3:::extra")]
    early, alone, taken = _early_and_final(before, after, monkeypatch)
    assert members(early) == members(alone)
    assert taken == 2
