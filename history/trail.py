"""A run's place in the audit trail: its baseline, what changed, the trend; then its record.

Two steps around the writing of the reports, so the history can never cost a scan:
`prepare` reads (the baseline, the earlier runs) and adds `changes`, `trend` and
`finding_age` to the document; `record` stores the run once its reports are written. A
history that cannot be read or written is a warning (HistoryError); a baseline that cannot
be compared is the user's error (BaselineError).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from document.schema import SCHEMA_VERSION, DocumentError, ScanDocument, load_document

from .diff import changes
from .runs import RunView, run_id_of, run_view
from .store import HistoryError, HistoryStore, RunRecord

log = logging.getLogger("aa_scan")


class BaselineError(ValueError):
    """A baseline file that cannot be this run's baseline (another organization, newer)."""


@dataclass(frozen=True)
class HistorySettings:
    path: Path | None  # None: no history for this run
    keep: int | None  # runs kept per series; None: all
    baseline: Path | None  # a scan.json to compare with, instead of the history's choice


def _record_of(document: ScanDocument) -> RunRecord:
    summary = document["summary"]
    return RunRecord(run_id_of(document), 0, document["started_at"], document["finished_at"],
                     summary["complete"], summary["interrupted"], summary["coverage_only"],
                     summary["verdict"], summary["regions_total"], summary["covered"],
                     summary["gaps"], summary["errors"], summary["active_findings"],
                     summary["public_findings"], "scan")


def _baseline_file(path: Path, document: ScanDocument) -> ScanDocument:
    try:
        baseline = load_document(path)
    except DocumentError as exc:
        raise BaselineError(f"--baseline {exc}") from None
    mine, theirs = document["organization"]["id"], baseline["organization"]["id"]
    if mine != theirs:
        raise BaselineError(f"--baseline {path} is a scan of organization {theirs or 'unknown'}"
                            f", not of {mine or 'unknown'}: runs of different organizations "
                            "cannot be compared")
    if baseline["schema_version"] > SCHEMA_VERSION:  # load_document refuses this already
        raise BaselineError(f"--baseline {path}: a newer scan document")
    return baseline


@dataclass(frozen=True)
class Prepared:
    """A document with its place in the audit trail, ready to be written, then recorded."""

    document: ScanDocument
    view: RunView | None  # the run as the history records it (built once, used twice)
    settings: HistorySettings

    def record(self, source: str = "scan") -> None:
        record(self.document, self.settings, source, self.view)


def prepare(document: ScanDocument, settings: HistorySettings) -> Prepared:
    """The document with `changes`, `trend` and `finding_age` (what can be known)."""
    from .analysis import finding_age, trend  # pandas: only where these tables are made

    enriched: dict[str, Any] = dict(document)
    enriched["run_id"] = run_id_of(document)
    compared = settings.path is not None or settings.baseline is not None
    current = run_view(document) if compared else None
    earlier: list[RunRecord] = []
    baseline_view, source = None, "history"
    if settings.baseline is not None:
        baseline_view, source = run_view(_baseline_file(settings.baseline, document)), "file"
    if settings.path is not None:
        try:
            with HistoryStore(settings.path) as store:
                organization = document["organization"]["id"]
                account = document["identity"]["account_id"]
                earlier = [r for r in store.runs(organization, account)
                           if r.run_id != enriched["run_id"]]
                if baseline_view is None:
                    chosen = store.baseline(organization, account, document["started_at"],
                                            exclude_run=enriched["run_id"])
                    baseline_view = store.load(chosen.run_id) if chosen else None
        except HistoryError as exc:
            log.warning("history not used: %s", exc)
    if current is not None:
        # Without a history and without a baseline file, nothing was compared: no block
        # (a null baseline would claim this is the first recorded run).
        enriched["changes"] = changes(current, baseline_view, source)
    if settings.path is not None:
        enriched["trend"] = trend([*earlier, _record_of(document)])
    age = finding_age(document)
    if age is not None:
        enriched["finding_age"] = age
    return Prepared(enriched, current, settings)  # type: ignore[arg-type]


def record(document: ScanDocument, settings: HistorySettings, source: str = "scan",
           view: RunView | None = None) -> None:
    """Store the run (and prune); a history that cannot be written is a warning."""
    if settings.path is None:
        return
    try:
        with HistoryStore(settings.path) as store:
            store.record(document, source, view)
            if settings.keep is not None:
                store.prune(settings.keep)
    except HistoryError as exc:
        log.warning("the run was not recorded in the history: %s", exc)
