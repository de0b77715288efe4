"""The command line: flags + config file -> Options; run; exit codes. The one place that turns
errors into messages and exit codes.

Exit codes: 0 compliant and complete; 1 gaps (or findings, per --fail-on); 2 usage,
configuration, credentials or output error (nothing scanned); 3 incomplete (some region or
call could not be assessed; the reports say so); 4 internal error; 128+N interrupted by
signal N (130 Ctrl-C, 143 SIGTERM), with what was collected saved to scan.json.

`aa-scan verify DIR` (argv[0] == "verify"; every other command line is parsed exactly as
before) checks a run folder against its manifest.json and its signature: 0 authenticated
(signed by the key the auditor pinned, a live scan; or intact with --hashes-only), 1
tampered, 2 a folder, manifest or flag it cannot read, 3 intact but not authenticated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from reports.console import render_console
from reports.document.derive import derive
from reports.document.rules import one_line
from reports.document.schema import TOOL_NAME, ScanDocument
from reports.formats import OutputFormat, writer_for
from scanner.history.diff import regressions
from scanner.history.trail import BaselineError, HistorySettings, begin, prepare, record

from . import __version__
from .config import FailOn, Options, load_options
from .errors import (
    ConfigError,
    CredentialsError,
    InputError,
    Interrupted,
    OutputError,
    ScanError,
)
from .logs import REDACTOR, add_file_log, close_logging, set_level, setup_logging

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_kms import KMSClient

    from reports.document.pack import RenderRun, Source
    from scanner.evidence.manifest import ManifestTool, Provenance
    from scanner.evidence.signature import Signer
    from scanner.evidence.verify import Pins

    from .aws import CallCounter

log = logging.getLogger("aa_scan")
EXIT_OK, EXIT_GAPS, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4
# aa-scan verify: an intact pack that is not an authenticated live scan.
EXIT_NOT_AUTHENTICATED = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aa-scan",
        description="Prove, region by region, that an AWS Organization is covered by IAM "
                    "Access Analyzer, and write gap reports (HTML, Excel, JSON).",
        epilog="Exit codes: 0 compliant, 1 gaps (per --fail-on), 2 usage/config/credentials "
               "error, 3 incomplete scan, 4 internal error, 130/143 interrupted. "
               "'aa-scan verify DIR' checks a run folder against its manifest.json "
               "(aa-scan verify --help).")
    parser.add_argument("--config", type=Path, help="configuration file "
                        "(default: config/regions.yaml if it exists)")
    parser.add_argument("--regions", help="comma-separated regions to scan, or 'all' "
                        "(default: every enabled region)")
    parser.add_argument("--exclude", help="comma-separated regions to leave out")
    parser.add_argument("--output-dir", type=Path, help="write the reports into exactly this "
                        "folder (default: a new folder per run under output/)")
    parser.add_argument("--format", dest="formats", action="append",
                        help="output formats, comma-separated or repeated: "
                        + ", ".join(f.value for f in OutputFormat))
    parser.add_argument("--coverage-only", action="store_const", const=True, default=None,
                        help="analyzers and organization only, no findings (fast)")
    parser.add_argument("--unused-findings", action="store_const", const=True, default=None,
                        help="read the findings of unused-access analyzers too, not only "
                        "their statistics")
    parser.add_argument("--fail-on", choices=[f.value for f in FailOn],
                        help="what makes a complete scan exit 1 (default: gaps; new-gaps and "
                        "new-public: only a regression since the baseline)")
    parser.add_argument("--workers", type=int, help="concurrent API calls (default: 32)")
    parser.add_argument("--profile", help="AWS profile to use")
    parser.add_argument("--role-arn", help="assume this role first (e.g. into the delegated "
                        "administrator account)")
    parser.add_argument("--external-id", help="external id for --role-arn and "
                        "--admin-role-name")
    parser.add_argument("--member-accounts", metavar="all|ID,ID", help="also list each "
                        "account's own analyzers (the per-account view of IAM.28): every "
                        "account of the organization, or these")
    parser.add_argument("--member-role-name", metavar="NAME", help="the role to assume in each "
                        "account for --member-accounts")
    parser.add_argument("--admin-role-name", metavar="NAME", help="a role of this name in the "
                        "management account and the delegated administrator: assume it to "
                        "examine the organization analyzers of both in one run")
    parser.add_argument("--home-region", help="region for global calls (default: the "
                        "profile's region, else us-east-1)")
    parser.add_argument("--log-file", help="rotating log file ('' to disable)")
    parser.add_argument("--from-json", type=Path, help="re-render the reports of an earlier "
                        "scan.json without calling AWS (with --history: record it there too)")
    parser.add_argument("--history", help="the history of runs (SQLite; default: "
                        "output/history.sqlite)")
    parser.add_argument("--no-history", action="store_true", help="do not read or record the "
                        "history for this run")
    parser.add_argument("--baseline", type=Path, help="compare with this earlier scan.json "
                        "instead of the latest recorded run")
    parser.add_argument("--notify-sns", metavar="TOPIC_ARN", help="publish a short summary to "
                        "this SNS topic when something changed (opt-in write to AWS)")
    parser.add_argument("--sign-kms-key", metavar="KEY", help="sign manifest.json with this "
                        "asymmetric AWS KMS key (ECC_NIST_P256 or RSA; opt-in, kms:Sign): "
                        "writes manifest.json.sig")
    parser.add_argument("--upload", metavar="S3_URI", help="copy the finished run folder to "
                        "s3://BUCKET/PREFIX/ and check every object (opt-in, the last step)")
    parser.add_argument("--upload-kms-key", metavar="KEY", help="encrypt the uploaded objects "
                        "with SSE-KMS and this key (default: SSE-S3)")
    parser.add_argument("--upload-bucket-owner", metavar="ACCOUNT", help="the account that "
                        "must own the upload bucket (default: the scanning account)")
    parser.add_argument("--demo", nargs="?", const="base", choices=("base", "later", "split"),
                        help="scan the bundled simulated organization (no AWS account "
                        "needed); 'later' is the same organization a week later, 'split' "
                        "the same from its management account, organization analyzers "
                        "split between it and the delegated administrator (try "
                        "--admin-role-name aa-scan-admin)")
    parser.add_argument("--debug", action="store_true",
                        help="debug logging and tracebacks (credentials are still redacted)")
    parser.add_argument("--version", action="version", version=f"aa-scan {__version__}")
    return parser


def build_verify_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aa-scan verify",
        description="Check that a run folder is the one an aa-scan live scan wrote: re-hash "
                    "every file manifest.json names (files missing, changed or added are "
                    "named), and check manifest.json.sig against the key you pin: "
                    "--public-key (offline) or --key-arn (kms:Verify). The key inside the "
                    "folder is only the signer's claim.",
        epilog="Exit codes: 0 authenticated (every file matches, signed by the pinned key, a "
               "live scan; or, with --hashes-only, every file matches), 1 tampered (one line "
               "per problem, naming the file), 2 a folder, manifest or flag that cannot be "
               "read, 3 intact but not authenticated (unsigned, no key pinned, a re-render or "
               "a demo: the last line says what was and was not proved).")
    parser.add_argument("directory", type=Path, metavar="DIR", help="the run folder")
    parser.add_argument("--public-key", type=Path, metavar="PEM_FILE", help="the public key "
                        "the signature must be by, obtained apart from the folder (aws kms "
                        "get-public-key); checked offline")
    parser.add_argument("--key-arn", metavar="ARN", help="the KMS key (its ARN, not an "
                        "alias) the signature must be by; without --public-key it is checked "
                        "by kms:Verify (implies --online)")
    parser.add_argument("--online", action="store_true", help="also ask kms:Verify (about "
                        "--key-arn, else about the key the signature names)")
    parser.add_argument("--hashes-only", action="store_true", help="check the files against "
                        "manifest.json and nothing else: exit 0 when they match, whoever "
                        "wrote it")
    parser.add_argument("--profile", help="AWS profile for kms:Verify")
    parser.add_argument("--debug", action="store_true", help="tracebacks on internal errors")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Every flag that shapes a run, in the shape of the configuration file, so it is
    validated by the same schema (flags not given are None and say nothing)."""
    exclude = None
    if args.exclude:
        exclude = {r.strip(): "excluded on the command line"
                   for r in args.exclude.split(",") if r.strip()}
    return {
        "regions": args.regions,
        "exclude": exclude,
        "coverage_only": args.coverage_only,
        "unused_access": {"findings": args.unused_findings},
        "workers": args.workers,
        "fail_on": args.fail_on,
        "aws": {"profile": args.profile, "role_arn": args.role_arn,
                "external_id": args.external_id,
                "admin_role_name": args.admin_role_name,
                "member_accounts": args.member_accounts,
                "member_role_name": args.member_role_name, "home_region": args.home_region},
        "output": {"formats": ",".join(args.formats) if args.formats else None,
                   "run_directory": str(args.output_dir) if args.output_dir else None},
        "log": {"file": args.log_file},
        "history": {"path": False if args.no_history else args.history},
        "baseline": str(args.baseline) if args.baseline else None,
        "notify": {"sns_topic_arn": args.notify_sns},
        "evidence": {"sign_kms_key": args.sign_kms_key, "upload": args.upload,
                     "upload_kms_key": args.upload_kms_key,
                     "upload_bucket_owner": args.upload_bucket_owner},
    }


FINDINGS_GATES = frozenset({FailOn.PUBLIC, FailOn.FINDINGS, FailOn.NEW_PUBLIC})


def check_gate(fail_on: FailOn, coverage_only: bool) -> None:
    """A gate on findings cannot pass on findings that were never read."""
    if coverage_only and fail_on in FINDINGS_GATES:
        raise ConfigError(f"--fail-on {fail_on.value} needs the findings, which a coverage-only "
                          "scan does not read; use --fail-on gaps (or never) with "
                          "--coverage-only")


def exit_code(document: ScanDocument, fail_on: FailOn) -> int:
    summary = document["summary"]
    if not summary["complete"] or summary["verdict"] == "INCOMPLETE":
        return EXIT_INCOMPLETE
    if fail_on is FailOn.NEVER:
        return EXIT_OK
    if fail_on in (FailOn.NEW_GAPS, FailOn.NEW_PUBLIC):
        changes = document.get("changes")
        if changes is not None and changes["baseline"] is None and changes.get("history_error"):
            log.warning("--fail-on %s: no baseline, because %s; every gap%s counts as new",
                        fail_on.value, changes["history_error"],
                        " and public finding" if fail_on is FailOn.NEW_PUBLIC else "")
        untold = changes.get("not_compared") if changes is not None else None
        if untold and (untold["gaps"] or (fail_on is FailOn.NEW_PUBLIC
                                          and untold["public_findings"])):
            log.warning("--fail-on %s: %d gap(s) and %s public finding(s) could not be compared "
                        "with an earlier run (see the changes' 'not compared'): counted as new",
                        fail_on.value, untold["gaps"], untold["public_findings"] or 0)
        new_gaps, new_public = regressions(document)
        if fail_on is FailOn.NEW_PUBLIC:
            check_gate(fail_on, new_public is None)
            return EXIT_GAPS if new_gaps or new_public else EXIT_OK
        return EXIT_GAPS if new_gaps else EXIT_OK
    if document["gaps"]:
        return EXIT_GAPS
    if fail_on in FINDINGS_GATES:
        found = (summary["public_findings"] if fail_on is FailOn.PUBLIC
                 else summary["active_findings"])
        check_gate(fail_on, found is None)
        if found:
            return EXIT_GAPS
    return EXIT_OK


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
                  directory: Path, pack: _Pack | None = None) -> list[Path]:
    """Every requested format; a failing writer does not stop the others. JSON goes first:
    the other reports state its SHA-256 (with the rest of the pack's integrity box)."""
    from reports.document.pack import Integrity
    from scanner.evidence.provenance import file_sha256, live_source

    written: list[Path] = []
    failures: list[str] = []
    ordered = sorted(formats, key=lambda f: f is not OutputFormat.JSON)
    scan_json: str | None = None
    for output_format in ordered:
        started = time.monotonic()
        integrity = Integrity(
            str(document.get("run_id") or ""), scan_json,
            pack.source if pack is not None else live_source(),
            pack.signer.key_arn if pack is not None and pack.signer is not None else None)
        try:
            path = writer_for(output_format)(document, directory, integrity=integrity)
            if output_format is OutputFormat.JSON:
                scan_json = file_sha256(path)
        except OSError as exc:
            failures.append(f"{output_format.value}: {exc.strerror or exc}")
            log.error("could not write the %s report: %s", output_format.value, exc)
            continue
        written.append(path)
        log.info("wrote %s (%.1fs)", path, time.monotonic() - started)
    if failures:
        raise OutputError("could not write " + "; ".join(failures)
                          + (f" (written: {', '.join(map(str, written))})" if written else ""))
    return written


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Point boto3 at the demo world, ignoring the user's own AWS configuration."""
    ignored = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN",
               "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
               "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    saved = {k: os.environ.get(k) for k in (*values, *ignored, "AWS_CONFIG_FILE",
                                            "AWS_SHARED_CREDENTIALS_FILE")}
    with tempfile.TemporaryDirectory(prefix="aa-scan-demo-") as empty:
        try:
            for key in ignored:
                os.environ.pop(key, None)
            os.environ["AWS_CONFIG_FILE"] = os.path.join(empty, "config")
            os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(empty, "credentials")
            os.environ.update(values)
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@contextmanager
def demo_world(variant: str) -> Iterator[Mapping[str, Any]]:
    """Start the simulated demo organization (an installed `aa_scan.worlds` entry point)."""
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group="aa_scan.worlds") if ep.name == "demo"]
    hint = "install the demo extra: pip install -e '.[demo]'"
    if not found:
        raise ConfigError(f"--demo needs the simulated organization; {hint}")
    try:
        factory = found[0].load()
    except ImportError as exc:
        raise ConfigError(f"--demo needs the simulated organization ({exc}); {hint}") from None
    log.info("demo: starting the simulated organization (no AWS account is used)")
    with factory(variant) as world, _environment(world.environment()):
        environment = world.environment()
        REDACTOR.add(environment["AWS_ACCESS_KEY_ID"], environment["AWS_SECRET_ACCESS_KEY"],
                     environment["AWS_SESSION_TOKEN"])
        yield getattr(world, "config_overrides", {})


@contextmanager
def private_files() -> Iterator[None]:
    """What the run creates is its owner's only, whatever umask it was started with: run
    folders 0700; reports, manifest, signature, the history (SQLite gives its -wal and -shm
    the database's mode), the log and its rotation lock 0600. The process's umask is put
    back afterwards (aa-scan may run inside another program, or a test)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


class _Signals:
    """SIGINT/SIGTERM ask the scan to stop; a second one stops at once."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        self.received = signum
        self.cancel.set()
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT
                      else signal.SIG_DFL)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


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


# Flags whose value is a secret, written [REDACTED] in the manifest's command line.
SECRET_FLAGS = ("--external-id",)


def redacted_command_line(argv: list[str]) -> tuple[str, ...]:
    """The command line as the manifest records it: the value of a secret flag (however
    argparse would let it be abbreviated) and anything the log redactor knows to be a
    credential replaced."""
    shown = ["aa-scan"]
    hide = False
    for arg in argv:
        if hide:
            shown.append("[REDACTED]")
            hide = False
            continue
        name, equals, _ = arg.partition("=")
        if len(name) > 2 and name.startswith("--") and any(f.startswith(name)
                                                           for f in SECRET_FLAGS):
            shown.append(f"{name}=[REDACTED]" if equals else name)
            hide = not equals
            continue
        shown.append(REDACTOR.scrub(arg))
    return tuple(shown)


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


def _run(args: argparse.Namespace, signals: _Signals, argv: list[str]) -> int:
    from scanner.evidence.provenance import demo_source, live_source

    from .document import new_run_id

    with ExitStack() as stack:
        base: Mapping[str, Any] = {}
        if args.demo:
            if args.profile or args.from_json:
                raise ConfigError("--demo cannot be combined with --profile or --from-json")
            base = stack.enter_context(demo_world(args.demo))
        options = load_options(args.config, _overrides(args), base)
        if not args.debug:
            set_level(options.log.level)
        if args.from_json is None:
            check_gate(options.fail_on, options.coverage_only)
        if options.log.file is not None:
            add_file_log(options.log.file, options.log.max_bytes, options.log.backups)
        started = dt.datetime.now(dt.UTC)
        trail = HistorySettings(options.history, options.history_keep, options.baseline)
        if options.baseline is not None:
            _load(options.baseline, "--baseline ")  # refused before anything is scanned
        # Known before any AWS call: role sessions carry it (name and SourceIdentity). A
        # re-render has no run of its own: this is the id of the re-render.
        run_id = new_run_id(started)
        options = replace(options, aws=replace(options.aws, run_id=run_id))
        aws = _Aws(options)
        command_line = redacted_command_line(argv)
        if args.from_json is not None:
            return _render(args, options, trail, started, aws, command_line)
        pack = _Pack(demo_source(args.demo) if args.demo else live_source(),
                     _signer(options, aws), command_line)
        directory = output_directory(options, started, run_id)
        start = begin(trail)  # only runs recorded by now can be this one's baseline
        document, interrupted = _scan(options, signals, aws, run_id)
        refused: ScanError | None = None
        prepared = None
        try:
            prepared = prepare(document, trail, start)
            document = prepared.document
        except BaselineError as exc:  # the scan is kept: reports first, then the refusal
            refused = ConfigError(str(exc))
        document = derive(document)  # once, on the final document: reports and manifest read it
        formats = (OutputFormat.JSON,) if interrupted else options.formats
        if interrupted:  # not signed: its manifest says so, and verify does not look for one
            pack = replace(pack, signer=None)
        written = write_outputs(document, formats, directory, pack)
        manifest = write_pack_manifest(document, directory, written, options, pack)
        _print_reports(document, [*written, manifest])
        if prepared is not None:
            prepared.record()
        else:
            record(document, trail)
        if refused is not None:
            raise refused
        if interrupted and signals.received is not None:
            log.warning("interrupted: what was collected is in %s", directory / "scan.json")
            return 128 + signals.received
        _finish_pack(options, document, written, directory, aws, pack)
        return exit_code(document, options.fail_on)


def _print_reports(document: ScanDocument, written: list[Path]) -> None:
    sys.stdout.write(render_console(document))
    sys.stdout.write("Reports: " + ", ".join(str(p) for p in written) + "\n")
    sys.stdout.flush()


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


def _finish_pack(options: Options, document: ScanDocument, written: list[Path],
                 directory: Path, aws: _Aws, pack: _Pack) -> None:
    """The opt-in steps after the reports, in order: sign, notify, upload (the last: its
    failure exits 2 and leaves the local folder as it is)."""
    from reports.document.pack import MANIFEST_NAME, SIGNATURE_NAME
    from scanner.evidence.manifest import EvidenceError

    try:
        if pack.signer is not None:
            _sign(options, directory, aws, pack.signer)
        if options.notify_sns:
            files = [directory / MANIFEST_NAME]
            if pack.signer is not None:
                files.append(directory / SIGNATURE_NAME)
            _notify(options, document, [*written, *files], aws)
        if options.upload:
            _upload(options, document, directory, aws, pack.source["kind"] == "re-render")
    except EvidenceError as exc:
        raise OutputError(str(exc)) from None


def _sign(options: Options, directory: Path, aws: _Aws, signer: Signer) -> None:
    from scanner.evidence.signature import sign_pack

    from .aws import kms_client

    kms = kms_client(aws.session(), options, signer.key_arn)
    path, record = sign_pack(kms, signer, directory)
    # The key ARN is KMS's answer: shown on one line, whatever it holds.
    sys.stdout.write(f"Signed: {path} ({record['algorithm']}, {one_line(signer.key_arn)})\n")
    sys.stdout.flush()


def _caller_account(options: Options, aws: _Aws) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from .aws import ClientFactory, error_from

    try:
        return ClientFactory(aws.session(), options).sts().get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        code, message = error_from(exc)
        raise CredentialsError(f"sts:GetCallerIdentity failed (the upload's bucket owner): "
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


def _load(path: Path, label: str = "") -> ScanDocument:
    from reports.document.schema import DocumentError, load_document

    try:
        return load_document(path)
    except DocumentError as exc:
        raise InputError(f"{label}{exc}") from None
    except RecursionError:  # json's decoder on thousands of nested arrays or objects
        raise InputError(f"{label}{path}: not valid JSON: nested too deeply") from None


def _render(args: argparse.Namespace, options: Options, trail: HistorySettings,
            started: dt.datetime, aws: _Aws, command_line: tuple[str, ...]) -> int:
    """--from-json: re-render an earlier scan.json; compared with --baseline if given, and
    recorded in the history if --history is given (how runs from before it are imported).
    The manifest says it is a re-render, of which file (its SHA-256) and which run; a
    document whose summary, verdict or gaps disagree with its regions is refused."""
    from reports.document.consistency import disagreements, recomputed
    from scanner.evidence.provenance import file_sha256, render_source
    from scanner.history.runs import run_id_of

    def state() -> tuple[int, int, int] | None:
        try:
            found = args.from_json.stat()
        except OSError:
            return None  # _load says why it cannot be read
        return found.st_ino, found.st_size, found.st_mtime_ns

    before = state()
    try:
        sha256 = file_sha256(args.from_json)
        size = args.from_json.stat().st_size
    except OSError:
        sha256, size = "", 0
    document = _load(args.from_json)
    if state() != before:  # the SHA-256 the manifest records is of what was rendered
        raise InputError(f"{args.from_json}: changed while it was read")
    found = disagreements(document)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise InputError(f"--from-json {args.from_json}: its summary, verdict or gaps disagree "
                         f"with its regions: {found[0]}{more}; a re-render renders only what "
                         "the regions say")
    document["summary"].update({k: v for k, v in recomputed(document).items()  # type: ignore[typeddict-item]
                                if k in document["summary"]})
    render: RenderRun = {"id": options.aws.run_id or "",
                         "at": started.strftime("%Y-%m-%dT%H:%M:%SZ")}
    pack = _Pack(render_source(sha256, size, document.get("run_id"), render),
                 _signer(options, aws), command_line)
    document["run_id"] = run_id_of(document)
    if options.baseline is not None:
        try:
            document = prepare(document, replace(trail, path=None)).document
        except BaselineError as exc:
            raise ConfigError(str(exc)) from None
    document = derive(document)  # once, on the final document: reports and manifest read it
    directory = output_directory(options, started)
    written = write_outputs(document, options.formats, directory, pack)
    manifest = write_pack_manifest(document, directory, written, options, pack)
    _print_reports(document, [*written, manifest])
    if args.history:
        record(document, trail, source="import")
    _finish_pack(replace(options, notify_sns=None), document, written, directory, aws, pack)
    return exit_code(document, options.fail_on)


def _scan(options: Options, signals: _Signals, aws: _Aws,
          run_id: str) -> tuple[ScanDocument, bool]:
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

    result = run_scan(options, factory, signals.cancel, progress)
    if aws.calls is not None:
        result = replace(result, api_calls=aws.calls.snapshot())
    judgement = judge(result)
    return build_document(result, judgement, options.summary(), run_id), result.interrupted


def _online_kms(profile: str | None) -> Callable[[str], KMSClient]:
    """For verify --online: a KMS client in the region of the key that signed."""
    from .aws import kms_client, make_session
    from .config import AwsOptions

    options = Options(aws=AwsOptions(profile=profile))
    session = make_session(options)
    return lambda key_arn: kms_client(session, options, key_arn)


def _public_key(path: Path) -> str:
    """The PEM of --public-key, read as a file of the pack is (no FIFO, device or huge file)
    and checked to be a public key: anything else is the user's error, not the pack's."""
    from scanner.evidence.files import PUBLIC_KEY_LIMIT, FileProblem, read_regular
    from scanner.evidence.signature import public_key_der

    try:
        data = read_regular(path, PUBLIC_KEY_LIMIT)
    except FileProblem as problem:
        raise InputError(f"--public-key {path}: cannot read: {problem.text}") from None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if not text or public_key_der(text) is None:
        raise InputError(f"--public-key {path}: not a PEM public key (expected the output of "
                         "aws kms get-public-key, as -----BEGIN PUBLIC KEY-----)")
    return text


def _internal_error(exc: Exception, debug: bool) -> int:
    """A defect, not bad input: one line (the traceback with --debug), exit 4."""
    if debug:
        log.exception("internal error")
    else:
        log.error("internal error: %s: %s (run with --debug for details)",
                  type(exc).__name__, exc)
    return EXIT_INTERNAL


EXIT_VERIFY = {"authenticated": EXIT_OK, "hashes only": EXIT_OK, "tampered": EXIT_GAPS,
               "not authenticated": EXIT_NOT_AUTHENTICATED}


def _pins(args: argparse.Namespace) -> Pins:
    """What the auditor pinned, checked: a usage error is exit 2, never a verdict on the
    pack."""
    from scanner.evidence.signature import KEY_ARN
    from scanner.evidence.verify import Pins

    if args.hashes_only and (args.public_key or args.key_arn or args.online):
        raise ConfigError("--hashes-only checks no key: leave out --public-key, --key-arn "
                          "and --online")
    if args.key_arn is not None and not KEY_ARN.match(args.key_arn):
        raise ConfigError(f"--key-arn {one_line(args.key_arn)}: expected a KMS key ARN "
                          "(arn:aws:kms:REGION:ACCOUNT:key/ID); an alias is no pin, it can "
                          "be pointed at another key")
    public_key = _public_key(args.public_key) if args.public_key is not None else None
    online = args.online or (args.key_arn is not None and public_key is None)
    return Pins(public_key=public_key, key_arn=args.key_arn,
                online=_online_kms(args.profile) if online else None,
                hashes_only=args.hashes_only)


def _verify(argv: list[str]) -> int:
    """aa-scan verify DIR: 0 authenticated, 1 tampered, 2 a folder, manifest or flag it
    cannot read, 3 intact but not authenticated."""
    from scanner.evidence.manifest import EvidenceError
    from scanner.evidence.verify import verify_folder

    try:
        args = build_verify_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    setup_logging(args.debug)
    try:
        result = verify_folder(args.directory, _pins(args))
    except EvidenceError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    except ScanError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except Exception as exc:
        return _internal_error(exc, args.debug)
    finally:
        close_logging()
    sys.stdout.write("".join(f"{line}\n" for line in result.lines()))
    sys.stdout.flush()
    return EXIT_VERIFY[result.outcome.value]


def main(argv: list[str] | None = None) -> int:
    """Run aa-scan (or `aa-scan verify DIR`); returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "verify":
        return _verify(argv[1:])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return int(exc.code or 0)
    setup_logging(args.debug)
    signals = _Signals()
    try:
        with signals, private_files():
            return _run(args, signals, argv)
    except Interrupted:
        log.error("interrupted before anything was collected")
        return 128 + (signals.received or signal.SIGINT)
    except ScanError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception as exc:
        return _internal_error(exc, args.debug)
    finally:
        close_logging()


def main_entry() -> None:
    sys.exit(main())
