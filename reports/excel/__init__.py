"""report.xlsx: the gap workbook, one sheet per view of the scan document.

Written by XlsxWriter in its constant-memory mode: each row goes to disk as soon as the next
one starts, so a scan with 100,000 findings never holds the workbook in memory, and the file
is renamed into place only once complete (reports.files). XlsxWriter writes the 80,000-row
Findings sheet in two thirds of the time of openpyxl's write-only mode, and takes a row as
one call, so the Findings rows need no per-cell objects (bench/bench_workbook.py).
openpyxl stays for reading workbooks (the tests, the independent checks).

- `workbook`: the sheets in order, built into one file (`write_workbook`, the writer
  reports.formats names);
- `writer`: the engine: a `Table` and a generator of rows in, streamed sheets out (widths,
  header, panes, filters, print setup, row heights, continuation sheets), the named styles;
- `bulk`: the rows of the tables without a cell style (Findings, 1.45 million cells at
  80,000 findings) serialized as XlsxWriter writes them and spliced into its package: the
  same file in well under half the time;
- `cells`: what every cell holds of hostile text: never a formula, unsafe characters shown,
  over-long values truncated with a visible marker;
- `summary`, `coverage`, `findings`, `changes`: the sheets' tables and row functions (Summary;
  Gaps, Regions, By resource type, By account, Archive rules, Errors, Member accounts;
  Findings and the internal and unused access sheets; Changes, Trend, Finding age).
"""

from .workbook import FILE_NAME, build_workbook, sheets, write_workbook
from .writer import DATE_FORMAT, Styled

__all__ = ["DATE_FORMAT", "FILE_NAME", "Styled", "build_workbook", "sheets", "write_workbook"]
