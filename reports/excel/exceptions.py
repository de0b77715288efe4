"""The Exceptions sheet: the register of accepted risk an auditor reads without the YAML,
one row per exception (its state on the scan's day, what it accepts, why, who, until when,
and what it matched)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reports.document.schema import ScanDocument

from .. import tables
from .writer import Column, Styled, Table, status_style

EXCEPTIONS = Table("Exceptions", [
    Column("State", 14), Column("Accepts", 36), Column("Reason", 45), Column("Owner", 24),
    Column("Ticket", 12), Column("Expires (UTC, last day)", 12), Column("Days left", 8),
    Column("Matched in this scan", 50), Column("Accepted", 9), Column("Note", 30),
    Column("Where it is configured", 24), Column("Key", 30)], fit_width=True)
# Colours of the states: the region statuses' (expired counts again: as a gap does).
STATE_STYLES = {"expired": "GAP", "expiring": "MEDIUM", "unused": "NOT_ENABLED",
                "active": "COVERED"}


def exception_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """One row per exception, expired first; a single row saying so when there are none."""
    block = document.get("exceptions")
    if block is None:
        yield ["None", "No exceptions were configured for this scan: nothing is accepted, "
               "every gap and finding counts."] + [None] * (len(EXCEPTIONS.columns) - 2)
        return
    for row in tables.register_rows(document):
        entry = row.entry
        yield [Styled(row.state, status_style(STATE_STYLES.get(entry["state"]))), row.what,
               entry["reason"], entry["owner"], entry["ticket"], entry["expires"],
               entry["days_left"], "\n".join(row.matched) or None, entry["accepted"],
               entry["note"], entry["source"], entry["key"]]
