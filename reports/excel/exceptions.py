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
    Column("State", 14), Column("Accepts", 40), Column("Kind", 8), Column("Region", 14),
    Column("Gap code", 22), Column("Finding ID", 30), Column("Resource (pattern)", 40),
    Column("Reason", 50), Column("Owner", 28), Column("Ticket", 14),
    Column("Expires (UTC, last day)", 14), Column("Days left", 9),
    Column("Matched in this scan", 60), Column("Accepted", 9), Column("Note", 40),
    Column("Where it is configured", 30), Column("Key", 40)], fit_width=True)
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
               entry["kind"], entry["region"], entry["code"], entry["finding_id"],
               entry["resource"], entry["reason"], entry["owner"], entry["ticket"],
               entry["expires"], entry["days_left"], "\n".join(row.matched) or None,
               entry["accepted"], entry["note"], entry["source"], entry["key"]]
