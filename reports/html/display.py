"""How report.html shows a value: numbers, unknown counts, times, durations, anchors, the
tones of region statuses; and the jinja2 finalizer every expression goes through."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from reports.document.rules import reveal
from reports.document.schema import ScanDocument

from ..tables import account_name, parse_time

NOT_COLLECTED = "not collected"
STATUS_TONES: Mapping[str, str] = {"COVERED": "ok", "GAP": "bad", "ERROR": "warn",
                                   "NOT_ENABLED": "off", "EXCLUDED": "excl"}


def visible(value: Any) -> Any:
    """Every expression's value on its way out: None is empty, unsafe characters shown."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return reveal(value)
    return value


def number(value: Any) -> str:
    """A count with thousands separators (None as 0): the template's `num` filter."""
    return f"{int(value or 0):,}"


def count(value: int | None) -> str:
    """A count that may be unknown (None: not collected), never shown as 0."""
    return NOT_COLLECTED if value is None else number(value)


def when(value: Any) -> str:
    """A time as "YYYY-MM-DD HH:MM:SS UTC"; text that is not a time is shown as it is."""
    parsed = value if isinstance(value, dt.datetime) else parse_time(value)
    if parsed is None:
        return str(value) if value else ""
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def day(value: dt.datetime | None) -> str:
    """A time as its UTC date; empty for None."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d") if value else ""


def duration(started: Any, finished: Any) -> str:
    """The time between two timestamps, in seconds, minutes or hours; empty when unknown."""
    start, end = parse_time(started), parse_time(finished)
    if start is None or end is None or end < start:
        return ""
    seconds = int((end - start).total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def anchor(prefix: str, index: int, text: str) -> str:
    """An id for a link within the page: prefix, number and a slug of the text."""
    slug = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:40]
    return f"{prefix}-{index}-{slug}" if slug else f"{prefix}-{index}"


def account_label(document: ScanDocument, account_id: str | None) -> dict[str, str]:
    """An account id with its name as the organization lists it."""
    return {"id": account_id or "", "name": account_name(document, account_id)}
