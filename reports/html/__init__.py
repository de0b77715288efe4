"""report.html: the self-contained gap report, for people and for compliance reviews.

One file with inline CSS and no scripts, fonts or links outside it, so it can be mailed,
archived and printed to PDF as it is. Python only prepares the data (mostly through
reports.tables, shared with the workbook); the markup lives in templates/ and is rendered
by jinja2 with autoescaping, so every value from AWS reaches the page escaped.

- `page`: the jinja2 environment, `context` (everything the template shows) and
  `write_html`, the writer reports.formats names;
- `overview`, `regions`, `findings`, `changes`: the context of each part of the page, as
  plain values (no markup);
- `display`: how a value is shown (numbers, times, tones) and the finalizer of every
  expression.
"""

from .display import visible
from .page import FILE_NAME, MAX_ROWS_PER_TYPE, context, environment, render, write_html

__all__ = ["FILE_NAME", "MAX_ROWS_PER_TYPE", "context", "environment", "render", "visible",
           "write_html"]
