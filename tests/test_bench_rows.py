"""bench/bench_workbook.py reads the workbook's sheets as the writer does: a sheet given as
FastRows (Findings) is read through its rows, so the benchmark compares the same cells."""

from __future__ import annotations

from bench.bench_workbook import bare_rows
from reports.document.derive import derive
from tests.builders import covered, finding, make_document


def test_the_bare_dump_reads_every_finding_of_the_fast_findings_sheet():
    findings = [finding(resource=f"arn:aws:s3:::b{i}") for i in range(7)]
    sheets = dict(bare_rows(derive(make_document([covered(findings=findings)]))))
    rows = sheets["Findings"]
    resource = rows[0].index("Resource")
    assert [row[resource] for row in rows[1:]] == [f"arn:aws:s3:::b{i}" for i in range(7)]
