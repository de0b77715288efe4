"""The rules every cell of the workbook follows, for text that comes from AWS or a
configuration file and is treated as hostile.

No string is ever stored as a formula (the writer quotes one that looks like it); characters
that XLSX cannot hold, or that hide or reorder text, are shown instead
(document.rules.reveal); a value longer than a cell can hold is truncated with a visible
marker.
"""

from __future__ import annotations

import re

from reports.document.rules import reveal

MAX_CELL_CHARS = 32_767  # Excel's limit, in UTF-16 units

FORMULA_START = frozenset("=+-@\t\r#")
# What a string starts with for the writer to look at it again: a formula's first character,
# or the "<" of XlsxWriter's rich text, which it writes into the sheet's XML as it is (a
# string that starts with "<r>" and ends with "</r>": see rich_lookalike).
SLOW_START = FORMULA_START | {"<"}


def rich_lookalike(text: str) -> bool:
    """Whether XlsxWriter (constant-memory mode) would take `text` for the XML of rich text
    and write it as it is: a name that can set it (an account's) could put markup, cells of
    its own, into the sheet. Such text is written as the XML of rich text holding it instead,
    escaped by XlsxWriter, which reads back as the very text (writer.Markup)."""
    return text.startswith("<r>") and text.endswith("</r>")
# Strings up to this length cannot exceed a cell, even in UTF-16 units and once escaped
# (an escape is 7 characters), so only longer ones are measured.
SHORT = MAX_CELL_CHARS // 7
# What the writer escapes in stored text (OOXML, ECMA-376 22.4.2.4, which Excel and
# LibreOffice decode): a control character it cannot hold as _xHHHH_, and the underscore of a
# literal "_xHHHH_" as _x005F_. Only used to measure the stored length.
_ESCAPE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


def _stored_length(text: str) -> int:
    """Characters the cell holds once escaped, counted in UTF-16 units as Excel does."""
    escaped = _ESCAPE.sub("_x0000_", text)
    return len(escaped) + sum(1 for c in text if c > "\uffff")


def truncation_marker(length: int) -> str:
    """The visible end of a truncated value: how long it was."""
    return f"… [truncated, {length} characters]"


def clean_text(value: str) -> str:
    """The text to store: unsafe characters shown, at most one cell long once stored."""
    text = reveal(value)
    if len(text) <= SHORT or _stored_length(text) <= MAX_CELL_CHARS:
        return text
    marker = truncation_marker(len(text))
    budget = MAX_CELL_CHARS - len(marker)
    # Escapes and UTF-16 pairs make characters longer: the longest prefix that fits.
    low, high = 0, budget
    while low < high:
        middle = (low + high + 1) // 2
        if _stored_length(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low] + marker
