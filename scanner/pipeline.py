"""One publish path for a live scan and a re-render: `Options` in, a typed `Outcome` out.

A run first gets its scan document from one of two sources: a live scan (collect, judge,
build the document; the demo is a live scan of the simulated organization) or a re-render
(`--from-json`: an earlier scan.json, refused if its summary, verdict or gaps disagree with
its regions). From there both take the same steps, in this order:

1. prepare the history (the baseline, what changed, the trend, the finding age): reads only;
2. derive the final document (issue 21: the one place for it is marked in `_publish`);
3. write the reports (scan.json first; the workbook by a child process meanwhile, where
   that is safe), then manifest.json, and print the summary;
4. record the run in the history (writes; a failure there is a warning, never a lost run):
   written by a thread while the workbook is written, committed only once step 3 is done;
   a history in S3 (--history s3://) is read before the scan and written back here with a
   conditional write (scanner.history_s3), and one S3 did not take exits 2 after step 5;
5. the opt-in writes to AWS: sign the manifest, notify SNS, import the gaps into Security
   Hub (a failure there exits 2 after the upload), upload the folder (the last).

The CLI decides the exit code from the returned `Outcome` alone, and turns every `ScanError`
raised here into a message; nothing here chooses an exit code or reads a flag.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import pickle
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from reports.console import render_console
from reports.document.derive import derive
from reports.document.rules import Verdict, one_line, utc_text
from reports.document.schema import TOOL_NAME, ScanDocument
from reports.formats import LATE, OutputFormat, late_file, late_writer_for, writer_for
from scanner.history.diff import regressions
from scanner.history.runs import FindingViews
from scanner.history.trail import BaselineError, HistorySettings, Start, begin, prepare, record

from . import __version__
from .config import Options, check_carried_exceptions
from .errors import ConfigError, CredentialsError, InputError, OutputError

if TYPE_CHECKING:
    import boto3

    from reports.document.pack import Source
    from scanner.evidence.manifest import ManifestTool, Provenance
    from scanner.evidence.signature import Signer
    from scanner.history.runs import FindingView
    from scanner.history.trail import Prepared
    from scanner.history_s3 import LocalCopy, S3History

    from .aws import CallCounter
    from .background import Handoff, Pending

log = logging.getLogger("aa_scan")


class Stop(Protocol):
    """How a run learns it was asked to stop (SIGINT, SIGTERM; the CLI handles them)."""

    cancel: threading.Event  # set: the scan stops asking AWS and keeps what it has
    received: int | None  # the signal that set it, once one came


# -- what a run returns ---------------------------------------------------------------------


@dataclass(frozen=True)
class Regressions:
    """What changed for the worse since the baseline (scanner.history.diff.regressions):
    what could not be compared counts as new, and says so."""

    gaps: int  # new (or escalated) gaps, with those not compared
    public_findings: int | None  # new public findings, likewise; None: findings not read
    not_compared_gaps: int  # of `gaps`, those that could not be compared
    not_compared_public: int | None  # of `public_findings`, likewise
    history_error: str | None  # there is no baseline because the history could not be used


@dataclass(frozen=True)
class Outcome:
    """What a run found and where it put it: everything the exit code is decided from.

    Read once from the final document (the one the reports and the manifest show), so the
    exit code can never disagree with them.
    """

    directory: Path
    complete: bool
    verdict: Verdict
    # Every gap, regions' and organization's, and the active and public findings, that no
    # exception accepts (what --fail-on gaps, findings and public count).
    gaps: int
    active_findings: int | None  # None: findings not read (coverage only)
    public_findings: int | None
    regressions: Regressions
    interrupted_by: int | None = None  # the signal that stopped the scan; the reports are partial


def outcome_of(document: ScanDocument, directory: Path) -> Outcome:
    """The typed outcome of the final document."""
    summary = document["summary"]
    changes = document.get("changes")
    untold = changes.get("not_compared") if changes is not None else None
    history_error = (changes.get("history_error") or None
                     if changes is not None and changes["baseline"] is None else None)
    new_gaps, new_public = regressions(document)
    accepted = summary.get("accepted")

    def unaccepted(count: int | None, key: Literal["findings", "public_findings"]
                   ) -> int | None:
        return None if count is None else count - (accepted[key] if accepted else 0)

    return Outcome(
        directory=directory, complete=summary["complete"], verdict=Verdict(summary["verdict"]),
        gaps=sum(1 for g in document["gaps"] if "exception" not in g),
        active_findings=unaccepted(summary["active_findings"], "findings"),
        public_findings=unaccepted(summary["public_findings"], "public_findings"),
        regressions=Regressions(new_gaps, new_public, untold["gaps"] if untold else 0,
                                untold["public_findings"] if untold else None, history_error))


# -- the run's AWS session and its evidence pack --------------------------------------------


class _Aws:
    """The AWS session of a run, made once when something first needs it (the scan, then
    the signature and the upload reuse it: one role assumption, one set of counters)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.calls: CallCounter | None = None
        self._session: boto3.Session | None = None

    def session(self) -> boto3.Session:
        if self._session is None:
            from .aws import CallCounter, make_session

            self.calls = CallCounter()
            self._session = make_session(self.options, self.calls)
        return self._session


@dataclass(frozen=True)
class _Pack:
    """What the evidence pack of this run records beside the document: where its evidence
    came from, the command line (redacted), and the key it is signed with (looked up before
    anything is scanned)."""

    source: Source
    signer: Signer | None = None
    command_line: tuple[str, ...] = ()

    @property
    def rerender(self) -> bool:
        return self.source["kind"] == "re-render"


@dataclass(frozen=True)
class _Document:
    """A scan document in hand, from either source, and what publishing it depends on."""

    document: ScanDocument
    pack: _Pack
    # A live scan: its folder (made before the scan) and what the history held when it
    # started. A re-render: neither (its folder is made once its baseline is read).
    directory: Path | None = None
    start: Start | None = None
    interrupted: bool = False
    # Views of its findings the history made while the scan ran (see prepare).
    known: Mapping[int, FindingView] | None = None


# -- the run --------------------------------------------------------------------------------


# A run holds what it collected (80,000 findings: a few million objects) until it ends, and
# makes many short-lived objects around it. With CPython's default thresholds (700, 10, 10)
# the collector walked that heap again and again: 1.6 s of the 6.8 s of CPU of an
# 80,000-finding run with the history (bench_heavy's world; 1,185 collections). Young
# objects are collected after 50,000 allocations instead of 700, as the test suite does
# (tests/conftest.py); cyclic garbage still goes, less often: 0.5 s in 13 collections.
GC_THRESHOLDS = (50_000, 20, 20)


@contextmanager
def _paced_collector() -> Iterator[None]:
    """The collector's thresholds for a run, put back afterwards (aa-scan may run inside
    another program, or a test)."""
    previous = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def run(options: Options, stop: Stop) -> Outcome:
    """Scan (or re-render `options.from_json`), publish, and return what was found."""
    with _paced_collector():
        return _run(options, stop)


def _run(options: Options, stop: Stop) -> Outcome:
    from .document import new_run_id

    started = dt.datetime.now(dt.UTC)
    trail = HistorySettings(options.history, options.history_keep, options.baseline)
    if options.baseline is not None:
        load_scan_json(options.baseline, "--baseline ")  # refused before anything is scanned
    # Known before any AWS call: role sessions carry it (name and SourceIdentity). A
    # re-render has no run of its own: this is the id of the re-render.
    run_id = new_run_id(started)
    options = replace(options, aws=replace(options.aws, run_id=run_id))
    aws = _Aws(options)
    remote = _fetch_history(options, aws)  # --history s3://: read before anything is scanned
    try:
        if remote is not None:
            history, copy = remote
            trail = replace(trail, path=copy.path, label=history.location.uri,
                            unavailable=copy.deleted)
        if options.from_json is not None:
            given = _rerender(options.from_json, options, started, aws)
        else:
            given = _live(options, started, trail, aws, stop)
        return _publish(given, options, started, trail, aws, stop, remote)
    finally:
        if remote is not None:
            remote[0].close()


def _fetch_history(options: Options, aws: _Aws) -> tuple[S3History, LocalCopy] | None:
    """--history s3://BUCKET/KEY: the history downloaded into a private local copy, in a
    bucket of the scanning account; one that cannot be read is a configuration error, before
    anything is scanned."""
    if options.history_s3 is None:
        return None
    from scanner.history_s3 import HistoryS3Error, S3History, parse_history_location

    from .aws import s3_client

    try:
        location = parse_history_location(options.history_s3)
    except ValueError as exc:
        raise ConfigError(f"--history: {exc}") from None
    # The history lives beside the scanner: the scanning account's bucket, whatever account
    # the packs are uploaded to (--upload-bucket-owner).
    owner = _caller_account(options, aws, "the history's")
    history = S3History(s3_client(aws.session(), options), location, bucket_owner=owner,
                        kms_key=options.upload_kms_key)
    try:
        return history, history.fetch()
    except HistoryS3Error as exc:
        history.close()
        raise ConfigError(str(exc)) from None


def _live(options: Options, started: dt.datetime, trail: HistorySettings, aws: _Aws,
          stop: Stop) -> _Document:
    """A live scan (of AWS, or of the demo's simulated organization): the signing key and
    the run folder are checked before anything is scanned."""
    from scanner.evidence.provenance import demo_source, live_source

    run_id = options.aws.run_id
    assert run_id is not None
    pack = _Pack(demo_source(options.demo) if options.demo
                 else live_source(profile=options.aws.profile),
                 _signer(options, aws), options.command_line)
    directory = output_directory(options, started, run_id)
    start = begin(trail)  # only runs recorded by now can be this one's baseline
    # While the scan waits on the network: the writers and the history's analysis imported,
    # the page's template compiled, and the history's view of each finished region's
    # findings made (its fingerprints), all off the path from the last region to the reports.
    compared = trail.path is not None or trail.baseline is not None
    warming = threading.Thread(target=_warm, args=(options.formats, compared),
                               name="aa-scan-warm", daemon=True)
    warming.start()
    views = FindingViews() if compared else None
    try:
        document, interrupted = _scan(options, stop, aws, run_id, views)
    finally:
        # Both threads are done before the reports: the workbook's child is forked only
        # from a process whose only thread is the main one (scanner.background).
        known = views.views() if views is not None else None
        warming.join()
    if interrupted:  # not signed: its manifest says so, and verify does not look for one
        pack = replace(pack, signer=None)
    return _Document(document, pack, directory, start, interrupted, known)


def _warm(formats: tuple[OutputFormat, ...], history: bool) -> None:
    """Import what publishing will need (see _live). A failure here is left to the step
    that needs the module, which reports it as it always has."""
    from importlib import import_module

    from reports.formats import load_writers

    try:
        load_writers(formats)
        if history:
            import_module("scanner.history.analysis")  # pandas: a third of a second
    except Exception:  # only a head start: the real import says what failed
        log.debug("warming up the writers failed", exc_info=True)


def _scan(options: Options, stop: Stop, aws: _Aws, run_id: str,
          views: FindingViews | None = None) -> tuple[ScanDocument, bool]:
    """Collect, judge, build the document; and whether the scan was interrupted. `views`:
    given each finished region's findings."""
    from .aws import ClientFactory
    from .document import build_document
    from .judge import judge
    from .run import RegionDone, run_scan

    session = aws.session()
    factory = ClientFactory(session, options, aws.calls)

    def progress(event: RegionDone) -> None:
        scan = event.scan
        state = (f"error {scan.analyzers_error.code}" if scan.analyzers_error
                 else f"{len(scan.analyzers or ())} analyzer(s), {len(scan.findings)} finding(s)")
        if scan.findings_errors:
            state += f", {len(scan.findings_errors)} failed call(s)"
        log.info("[%d/%d] %s: %s, %d call(s), %.1fs", event.done, event.total, scan.region,
                 state, scan.api_calls, scan.seconds)
        if views is not None and scan.findings:
            views.add(scan.findings)

    result = run_scan(options, factory, stop.cancel, progress)
    if aws.calls is not None:
        result = replace(result, api_calls=aws.calls.snapshot())
    judgement = judge(result, options.exceptions)
    return build_document(result, judgement, options.summary(), run_id), result.interrupted


def load_scan_json(path: Path, label: str = "") -> ScanDocument:
    """A scan.json, validated against its schema; a file that is not one is an InputError."""
    from reports.document.schema import DocumentError, load_document

    try:
        return load_document(path)
    except DocumentError as exc:
        raise InputError(f"{label}{exc}") from None
    except RecursionError:  # json's decoder on thousands of nested arrays or objects
        raise InputError(f"{label}{path}: not valid JSON: nested too deeply") from None


def _rerender(path: Path, options: Options, started: dt.datetime, aws: _Aws) -> _Document:
    """--from-json: an earlier scan.json. The manifest says it is a re-render, of which file
    (its SHA-256) and which run; a document whose summary, verdict or gaps disagree with its
    regions is refused."""
    from reports.document.consistency import disagreements, recomputed
    from reports.document.pack import RenderRun
    from scanner.evidence.provenance import file_sha256, render_source
    from scanner.history.runs import run_id_of

    def state() -> tuple[int, int, int] | None:
        try:
            found = path.stat()
        except OSError:
            return None  # load_scan_json says why it cannot be read
        return found.st_ino, found.st_size, found.st_mtime_ns

    before = state()
    try:
        sha256 = file_sha256(path)
        size = path.stat().st_size
    except OSError:
        sha256, size = "", 0
    document = load_scan_json(path)
    if state() != before:  # the SHA-256 the manifest records is of what was rendered
        raise InputError(f"{path}: changed while it was read")
    _check_exceptions(path, document)
    found = disagreements(document)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise InputError(f"--from-json {path}: its summary, verdict or gaps disagree "
                         f"with its regions: {found[0]}{more}; a re-render renders only what "
                         "the regions say")
    document["summary"].update({k: v for k, v in recomputed(document).items()  # type: ignore[typeddict-item]
                                if k in document["summary"]})
    render = RenderRun(id=options.aws.run_id or "", at=utc_text(started))
    pack = _Pack(render_source(sha256, size, document.get("run_id"), render, path),
                 _signer(options, aws), options.command_line)
    document["run_id"] = run_id_of(document)
    return _Document(document, pack)


def _check_exceptions(path: Path, document: ScanDocument) -> None:
    """The exceptions a re-render would apply again (the register's, and the configuration's
    copy), held to the configuration's own rules as of the scan's start: an edited scan.json
    must not accept with an exception no configuration could hold (a blank owner, an expiry
    years away, `resource: "*"`). Refused with one line, like the configuration."""
    from reports.document.exceptions import day_of, spec_of

    block = document.get("exceptions")
    carried = {"exceptions.entries": [spec_of(e) for e in block["entries"]] if block else [],
               "configuration.exceptions": document["configuration"].get("exceptions") or []}
    today = day_of(document["started_at"])
    for where, specs in carried.items():
        if not specs:
            continue
        if today is None:
            raise InputError(f"--from-json {path}: started_at {document['started_at']!r} is "
                             "not a time: its exceptions cannot be judged")
        try:
            check_carried_exceptions(
                specs, f"--from-json {path} ({where}, as of the scan's start, {today})", today)
        except ConfigError as problem:
            raise InputError(f"{problem}; a re-render applies only exceptions the "
                             "configuration would accept") from None


# -- publishing: the one path both sources take ---------------------------------------------


def _publish(given: _Document, options: Options, started: dt.datetime,
             trail: HistorySettings, aws: _Aws, stop: Stop,
             remote: tuple[S3History, LocalCopy] | None = None) -> Outcome:
    """Prepare the history, write the reports and the manifest, record the run, then the
    opt-in writes to AWS."""
    document, pack = given.document, given.pack
    prepared: Prepared | None = None
    refused: ConfigError | None = None
    early: _EarlyWorkbook | None = None
    if not pack.rerender:
        if (OutputFormat.XLSX in options.formats and not given.interrupted
                and given.directory is not None):
            early = _EarlyWorkbook.start(document, given.directory)
        # A live scan is compared with its baseline (the history's choice or --baseline). A
        # baseline it cannot be compared with is refused after its reports are written: what
        # was collected is kept.
        try:
            prepared = prepare(document, trail, given.start, given.known)
            document = prepared.document
        except BaselineError as exc:
            refused = ConfigError(str(exc))
            # The run ends with this refusal, before any signing: its pack says from the start
            # that it is not signed (as an interrupted run's does), so it verifies as it is.
            pack = replace(pack, signer=None)
        except BaseException:
            if early is not None:
                early.cancel()
            raise
    elif options.baseline is not None:
        # A re-render is compared with --baseline only (never the history's choice), and a
        # baseline it cannot be compared with is refused before its folder is made.
        try:
            document = prepare(document, replace(trail, path=None)).document
        except BaselineError as exc:
            raise ConfigError(str(exc)) from None
    try:
        directory = given.directory or output_directory(options, started)
        # Once, on the final document: the writers, the manifest, the history's record and
        # the outcome below all read what it returns.
        document = derive(document)
        if early is not None:
            early.give(document)
        outcome = outcome_of(document, directory)
    except BaseException:  # until write_outputs takes it over
        if early is not None:
            early.cancel()
        raise
    formats = (OutputFormat.JSON,) if given.interrupted else options.formats
    # What anchors this run to its pack when a later run compares with it: the scan.json it
    # wrote (an import: the file it imported, which the pack of its run may name).
    given_input = pack.source.get("input")

    def record_run(history: Path | None, scan_json: str | None,
                   commit: Callable[[], bool] | None = None) -> None:
        """Record the run into the history at `history` (again, into a fresh copy, when a
        history in S3 was written by another run meanwhile); `commit`: see record."""
        scan_sha256 = (given_input["sha256"] if pack.rerender and given_input else scan_json)
        settings = replace(trail, path=history)
        if prepared is not None:
            replace(prepared, document=document, settings=settings).record(
                scan_sha256=scan_sha256, commit=commit)
        elif not pack.rerender:
            record(document, settings, scan_sha256=scan_sha256, commit=commit)
        elif options.record_rerender:  # how runs from before the history are imported
            record(document, settings, source="import", scan_sha256=scan_sha256,
                   commit=commit)

    recording: list[_Recording] = []
    scan_json: list[str | None] = [None]

    def start_recording(sha256: str | None) -> None:
        scan_json[0] = sha256
        recording.append(_Recording(partial(record_run, trail.path, sha256)))

    try:
        # The record is written while the workbook is, and committed once every report and
        # the manifest are written: a run whose reports could not be written is not recorded.
        written = write_outputs(document, formats, directory, pack, meanwhile=start_recording,
                                early=early)
        manifest = write_pack_manifest(document, directory, written, options, pack)
        _print_reports(document, [*written, manifest])
    except BaseException:
        for each in recording:
            each.finish(commit=False)
        raise
    for each in recording:
        each.finish(commit=True)
    # Held until the opt-in writes are done: a history S3 did not take exits 2, after them.
    failures = [failure] if (failure := _publish_history(
        remote, lambda history: record_run(history, scan_json[0]))) else []
    if refused is not None or (given.interrupted and stop.received is not None):
        for failure in failures:
            log.error("%s", failure)
    if refused is not None:
        raise refused
    if given.interrupted and stop.received is not None:
        return replace(outcome, interrupted_by=stop.received)
    failures += _finish_pack(options, document, written, directory, aws, pack)
    if failures:
        raise OutputError(failures[0])
    return outcome


def _publish_history(remote: tuple[S3History, LocalCopy] | None,
                     record_run: Callable[[Path], None]) -> str | None:
    """The local copy of a history in S3, written back (see scanner.history_s3); why it
    could not be, or None."""
    if remote is None:
        return None
    from scanner.history_s3 import HistoryS3Error

    history, copy = remote
    try:
        history.publish(copy, record_run)
    except HistoryS3Error as exc:
        return str(exc)
    return None


class _Recording:
    """The run's record in the history, written by a thread of its own (while the workbook
    is written by a child process and this thread waits for it), and committed or left out
    when `finish` says (the record waits for that, its transaction open)."""

    def __init__(self, write: Callable[[Callable[[], bool]], None]) -> None:
        self._decided = threading.Event()
        self._commit = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, args=(write,),
                                        name="aa-scan-history", daemon=True)
        self._thread.start()

    def _write(self, write: Callable[[Callable[[], bool]], None]) -> None:
        try:
            write(self._decision)
        except BaseException as exc:  # a defect in the history: raised where it is awaited
            self._error = exc

    def _decision(self) -> bool:
        self._decided.wait()
        return self._commit

    def finish(self, commit: bool) -> None:
        """Commit the record (or not), wait for it; a defect in recording is raised here."""
        self._commit = commit
        self._decided.set()
        self._thread.join()
        if self._error is not None and commit:
            raise self._error


def _make_private(path: Path) -> None:
    """An existing empty folder given with --output-dir, made its owner's only like one this
    run creates (a folder of another user is refused: the pack would not be private)."""
    if path.stat().st_uid != os.geteuid():
        raise OutputError(f"--output-dir {path} belongs to another user: give a folder of "
                          "your own")
    try:
        path.chmod(0o700)
    except OSError as exc:
        raise OutputError(f"cannot make {path} private: {exc.strerror or exc}") from None


def output_directory(options: Options, started: dt.datetime, run_id: str | None = None) -> Path:
    """The run's folder, created (its owner's only) and checked writable before anything is
    scanned: by default output/<run id> (a re-render, which has no run of its own:
    output/<time>), so `aa-scan verify` can tell a pack under its own name from one copied
    under another. --output-dir is refused when it already holds files (two runs in one
    folder make a pack that no manifest describes) or is a symbolic link."""
    if options.output_dir is not None:
        path = options.output_dir
        if path.is_symlink():
            raise OutputError(f"--output-dir {path} is a symbolic link (to "
                              f"{os.readlink(path)}): give the folder itself")
        try:
            path.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            if not path.is_dir():
                raise OutputError(f"--output-dir {path} is not a folder") from None
            held = sorted(p.name for p in path.iterdir())
            if held:
                shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3
                                               else "")
                raise OutputError(f"--output-dir {path} already holds files ({shown}): a run "
                                  "folder holds one run's files, so give a new or empty "
                                  "folder") from None
            _make_private(path)
        except OSError as exc:
            raise OutputError(f"cannot create the output folder {path}: "
                              f"{exc.strerror or exc}") from None
    else:
        stamp = run_id or started.strftime("%Y%m%dT%H%M%SZ")
        for attempt in range(1, 1000):
            path = options.output_root / (stamp if attempt == 1 else f"{stamp}-{attempt}")
            try:
                path.mkdir(mode=0o700, parents=True, exist_ok=False)
                break
            except FileExistsError:
                continue
            except OSError as exc:
                raise OutputError(f"cannot create the output folder {path}: "
                                  f"{exc.strerror or exc}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise OutputError(f"the output folder {path} is not writable: "
                          f"{exc.strerror or exc}") from None
    return path


def write_outputs(document: ScanDocument, formats: tuple[OutputFormat, ...],
                  directory: Path, pack: _Pack | None = None,
                  meanwhile: Callable[[str | None], object] | None = None,
                  early: _EarlyWorkbook | None = None) -> list[Path]:
    """Every requested format; a failing writer does not stop the others. The workbook, the
    slowest, is written by a child process forked first (or `early`, before the history's
    comparison: see _EarlyWorkbook), where that is safe (scanner.background), while
    scan.json and the others are written here; JSON goes first: the other reports state its
    SHA-256 (with the rest of the pack's integrity box), which the workbook's child is given
    once it is known. The paths come back in the formats' order all the same. `meanwhile`
    is called with scan.json's SHA-256 (None: not written) once the other reports are
    written, before the workbook is waited for."""
    from reports.document.pack import Integrity
    from scanner.evidence.provenance import file_sha256, live_source

    from .background import Handoff, Pending

    written: dict[OutputFormat, Path] = {}
    failures: list[str] = []
    ordered = sorted(formats, key=lambda f: f is not OutputFormat.JSON)
    run_id = str(document.get("run_id") or "")
    source = pack.source if pack is not None else live_source()
    key_arn = pack.signer.key_arn if pack is not None and pack.signer is not None else None

    def integrity(scan_json: str | None) -> Integrity:
        return Integrity(run_id, scan_json, source, key_arn)

    # The integrity box, for the children forked before scan.json is written.
    handoffs: list[Handoff] = []

    def give(scan_json: str | None) -> None:
        for handoff in handoffs:
            handoff.give(pickle.dumps(integrity(scan_json)))

    def done(output_format: OutputFormat, path: Path, started: float) -> None:
        written[output_format] = path
        log.info("wrote %s (%.1fs)", path, time.monotonic() - started)

    def failed(output_format: OutputFormat, exc: OSError) -> None:
        failures.append(f"{output_format.value}: {exc.strerror or exc}")
        log.error("could not write the %s report: %s", output_format.value, exc)

    pending: list[tuple[OutputFormat, Pending, float]] = []
    try:
        for output_format in ordered:
            if output_format is OutputFormat.XLSX and early is not None:
                handoffs.append(early.integrity)
                pending.append((output_format, early.pending, early.started))
                early = None
            elif output_format in LATE:  # by a child process (scanner.background)
                handoff = Handoff()
                handoffs.append(handoff)
                write = partial(late_writer_for(output_format), document, directory,
                                integrity=partial(_received, handoff))
                pending.append((output_format, Pending(
                    write, handoff, targets=(directory / late_file(output_format),)),
                    time.monotonic()))
        if early is not None:  # not asked for after all
            early.cancel()
        scan_json: str | None = None
        for output_format in ordered:
            if output_format in LATE:
                continue
            started = time.monotonic()
            try:
                path = writer_for(output_format)(document, directory,
                                                 integrity=integrity(scan_json))
                if output_format is OutputFormat.JSON:
                    scan_json = file_sha256(path)
            except OSError as exc:
                failed(output_format, exc)
                continue
            finally:
                if output_format is OutputFormat.JSON:
                    give(scan_json)
            done(output_format, path, started)
        give(scan_json)  # no scan.json asked for
        if meanwhile is not None:
            meanwhile(scan_json if OutputFormat.JSON in written else None)
        for output_format, job, started in pending:
            try:
                path = job.result()
            except OSError as exc:
                failed(output_format, exc)
                continue
            done(output_format, path, started)
    except BaseException:
        for handoff in handoffs:
            handoff.close()
        for _, job, _ in pending:
            job.cancel()
        raise
    paths = [written[f] for f in ordered if f in written]
    if failures:
        raise OutputError("could not write " + "; ".join(failures)
                          + (f" (written: {', '.join(map(str, paths))})" if paths else ""))
    return paths


def _received(handoff: Handoff) -> Any:
    """What the parent gave through `handoff` (pickled by this very program, on a pipe
    between it and its child: nothing else writes there)."""
    return pickle.loads(handoff.take())


@dataclass
class _EarlyWorkbook:
    """The workbook's child, forked as soon as the scan is judged: before the history
    compares the run with its baseline (0.8 s of one core at 80,000 findings, which the
    workbook had to wait for) and before scan.json is written. It writes the sheets that
    do not depend on the comparison at once, and the Summary, Changes, Finding age and Trend
    sheets when the parent gives it what the comparison changed in the document (and the
    Findings sheet's ages it carried over: reports.excel.workbook). Only where a fork is
    safe; elsewhere it is written here when asked for, like any other."""

    pending: Pending
    document: Handoff  # what the comparison changed in the document
    integrity: Handoff  # the pack's integrity box, once scan.json is written
    before: ScanDocument
    started: float

    @classmethod
    def start(cls, document: ScanDocument, directory: Path) -> _EarlyWorkbook:
        from .background import Handoff, Pending

        before = document  # not derived yet: the sheets that read `derived` wait for it
        changes, integrity = Handoff(), Handoff()
        resolved: list[ScanDocument] = []

        def final() -> ScanDocument:
            if not resolved:
                resolved.append(_with_changes(before, _received(changes)))
            return resolved[0]

        write = partial(late_writer_for(OutputFormat.XLSX), before, directory,
                        integrity=partial(_received, integrity), final=final)
        return cls(Pending(write, changes, integrity,
                           targets=(directory / late_file(OutputFormat.XLSX),)),
                   changes, integrity, before, time.monotonic())

    def give(self, after: ScanDocument) -> None:
        """The final document (derived), as the changes from the one it began with."""
        self.document.give(pickle.dumps(_changes_of(self.before, after),
                                        protocol=pickle.HIGHEST_PROTOCOL))

    def cancel(self) -> None:
        self.document.close()
        self.integrity.close()
        self.pending.cancel()


def _changes_of(before: ScanDocument, after: ScanDocument) -> dict[str, Any]:
    """What differs in `after` from `before`, a document made from it by replacing keys and
    findings (the history's comparison does: everything else is shared, not copied)."""
    was: Mapping[str, Any] = before
    changed: dict[str, Any] = {"set": {k: v for k, v in after.items() if k != "findings"
                                       and (k not in was or was[k] is not v)},
                               "drop": [k for k in was if k not in after]}
    old, new = before["findings"], after["findings"]
    if len(old) != len(new):
        changed["set"]["findings"] = new
    elif old is not new:
        changed["findings"] = [(i, f) for i, (o, f) in enumerate(zip(old, new, strict=True))
                               if o is not f and o != f]
    return changed


def _with_changes(before: ScanDocument, changes: dict[str, Any]) -> ScanDocument:
    """`before` with `changes` (_changes_of) made: the document the parent has."""
    document: dict[str, Any] = {k: v for k, v in before.items() if k not in changes["drop"]}
    document.update(changes["set"])
    if "findings" in changes:
        findings = list(before["findings"])
        for index, finding in changes["findings"]:
            findings[index] = finding
        document["findings"] = findings
    return document  # type: ignore[return-value]


def _print_reports(document: ScanDocument, written: list[Path]) -> None:
    sys.stdout.write(render_console(document))
    sys.stdout.write("Reports: " + ", ".join(str(p) for p in written) + "\n")
    sys.stdout.flush()


# -- the evidence pack: manifest, signature, notification, upload ---------------------------


def pack_configuration(document: ScanDocument, options: Options) -> dict[str, Any]:
    """The effective configuration the manifest records: the document's (what shaped the
    result), with this run's evidence settings (the same values for a live scan; for a
    re-render, those of the re-render)."""
    return {**document["configuration"], "sign_kms_key": options.sign_kms_key,
            "upload": options.upload, "upload_kms_key": options.upload_kms_key}


def _tool() -> ManifestTool:
    """aa-scan as the manifest names it: version, and the commit of the checkout it runs
    from, if it does."""
    from scanner.evidence.provenance import checkout_commit

    tool: ManifestTool = {"name": TOOL_NAME, "version": __version__}
    checkout = checkout_commit()
    if checkout is not None:
        tool["commit"], tool["checkout_modified"] = checkout
    return tool


def _provenance(document: ScanDocument, options: Options, pack: _Pack) -> Provenance:
    from scanner.evidence.provenance import baseline_record, run_by

    changes = document.get("changes")
    baseline = changes["baseline"] if changes else None
    return {"source": pack.source, "command_line": list(pack.command_line),
            "run_by": run_by(),
            "baseline": baseline_record(dict(baseline) if baseline else None, options.baseline,
                                        options.output_root)}


def write_pack_manifest(document: ScanDocument, directory: Path, written: list[Path],
                        options: Options, pack: _Pack) -> Path:
    """manifest.json, the last file of the folder: every file the run wrote, hashed."""
    from scanner.evidence.manifest import EvidenceError, build_manifest, write_manifest

    try:
        manifest = build_manifest(document, directory, written, tool=_tool(),
                                  configuration=pack_configuration(document, options),
                                  provenance=_provenance(document, options, pack),
                                  signing=pack.signer.record() if pack.signer else None)
        path = write_manifest(manifest, directory)
    except EvidenceError as exc:
        raise OutputError(str(exc)) from None
    log.info("wrote %s (%d artifact(s))", path, len(manifest["artifacts"]))
    return path


def _signer(options: Options, aws: _Aws) -> Signer | None:
    """The signing key, checked able to sign before anything is scanned or written."""
    if not options.sign_kms_key:
        return None
    from scanner.evidence.manifest import EvidenceError
    from scanner.evidence.signature import resolve_signer

    from .aws import kms_client

    try:
        return resolve_signer(kms_client(aws.session(), options, options.sign_kms_key),
                              options.sign_kms_key)
    except EvidenceError as exc:
        raise ConfigError(str(exc)) from None


def _finish_pack(options: Options, document: ScanDocument, written: list[Path],
                 directory: Path, aws: _Aws, pack: _Pack) -> list[str]:
    """The opt-in steps after the reports, in order: sign, notify, Security Hub, upload (the
    last: its failure exits 2 and leaves the local folder as it is). A re-render tells no
    one: it observed nothing new. A Security Hub import that fails does not stop the upload:
    why it failed is returned, and the run exits 2 after it."""
    from reports.document.pack import MANIFEST_NAME, SIGNATURE_NAME
    from scanner.evidence.manifest import EvidenceError

    failures: list[str] = []
    try:
        if pack.signer is not None:
            _sign(options, directory, aws, pack.signer)
        if options.notify_sns and not pack.rerender:
            files = [directory / MANIFEST_NAME]
            if pack.signer is not None:
                files.append(directory / SIGNATURE_NAME)
            _notify(options, document, [*written, *files], aws)
        if options.security_hub and not pack.rerender:
            failures += _security_hub(options, document, aws)
        if options.upload:
            _upload(options, document, directory, aws, pack.rerender)
    except EvidenceError as exc:
        raise OutputError(str(exc)) from None
    return failures


def _security_hub(options: Options, document: ScanDocument, aws: _Aws) -> list[str]:
    """--security-hub: the gaps into the caller's own Security Hub, in the home region (see
    scanner.securityhub); why it failed, if it did."""
    from scanner.securityhub import SecurityHubError, Target, import_gaps

    from .aws import client_config, home_region

    session = aws.session()
    region = home_region(session, options)
    identity = document["identity"]
    target = Target(identity["account_id"], region,
                    identity["arn"].split(":")[1] if identity["arn"].count(":") > 1 else "aws")
    client = session.client("securityhub", region_name=region,
                            config=client_config(options, 2))
    try:
        done = import_gaps(client, document, target)
    except SecurityHubError as exc:
        return [str(exc)]
    workflow = "".join((f" ({done.suppressed} accepted: SUPPRESSED)" if done.suppressed else "",
                        f" ({done.reopened} no longer accepted: back to NEW)"
                        if done.reopened else ""))
    sys.stdout.write(f"Security Hub: {done.failed} gap(s) imported as FAILED{workflow}, "
                     f"{done.passed} closed as PASSED, into account {target.account} in {region} "
                     f"({target.product_arn}, {done.calls} call(s))\n")
    sys.stdout.flush()
    return []


def _sign(options: Options, directory: Path, aws: _Aws, signer: Signer) -> None:
    from scanner.evidence.signature import sign_pack

    from .aws import kms_client

    kms = kms_client(aws.session(), options, signer.key_arn)
    path, record = sign_pack(kms, signer, directory)
    # The key ARN is KMS's answer: shown on one line, whatever it holds.
    sys.stdout.write(f"Signed: {path} ({record['algorithm']}, {one_line(signer.key_arn)})\n")
    sys.stdout.flush()


def _caller_account(options: Options, aws: _Aws, whose: str = "the upload's") -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from .aws import ClientFactory, error_from

    try:
        return ClientFactory(aws.session(), options).sts().get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        code, message = error_from(exc)
        raise CredentialsError(f"sts:GetCallerIdentity failed ({whose} bucket owner): "
                               f"{code}: {message}") from None


def _upload(options: Options, document: ScanDocument, directory: Path, aws: _Aws,
            rendered: bool) -> None:
    from scanner.evidence.upload import kms_key_arn, parse_destination, upload_folder

    from .aws import kms_client, s3_client

    assert options.upload is not None
    try:
        destination = parse_destination(options.upload)
    except ValueError as exc:
        raise ConfigError(f"--upload: {exc}") from None
    kms_key = None
    if options.upload_kms_key:
        kms_key = kms_key_arn(kms_client(aws.session(), options, options.upload_kms_key),
                              options.upload_kms_key)
    # The scanning account of a live scan is this run's caller; a re-render's document may
    # say anything, so its default is the caller's own account, asked of STS.
    owner = options.upload_bucket_owner or (
        _caller_account(options, aws) if rendered else document["identity"]["account_id"])
    uris = upload_folder(s3_client(aws.session(), options), directory, destination,
                         bucket_owner=owner, kms_key=kms_key)
    sys.stdout.write("".join(f"Uploaded: {uri}\n" for uri in uris))
    sys.stdout.flush()
    log.info("uploaded %d object(s) to %s (bucket owner %s), each checked (size, SHA-256, "
             "encryption)", len(uris), options.upload, owner)


def _notify(options: Options, document: ScanDocument, written: list[Path], aws: _Aws) -> None:
    from .aws import sns_client
    from .notify import publish

    assert options.notify_sns is not None
    publish(sns_client(aws.session(), options, options.notify_sns),
            options.notify_sns, document, written)

