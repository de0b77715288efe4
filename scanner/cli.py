"""The command line: flags + config file -> Options; the pipeline; exit codes. The one place
that turns errors into messages and exit codes (scanner.pipeline does the run itself and
returns what it found, typed).

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
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from reports.document.rules import Verdict, one_line
from reports.formats import OutputFormat

from . import __version__
from .config import FailOn, Options, load_options
from .errors import ConfigError, InputError, Interrupted, ScanError
from .logs import REDACTOR, add_file_log, close_logging, set_level, setup_logging
from .pipeline import Outcome, run

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

    from scanner.evidence.verify import Pins

log = logging.getLogger("aa_scan")
EXIT_OK, EXIT_GAPS, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4
# aa-scan verify: an intact pack that is not an authenticated live scan.
EXIT_NOT_AUTHENTICATED = 3


class _Parser(argparse.ArgumentParser):
    """A usage error exits 2 and points to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The flags of a scan (and of a re-render, --from-json)."""
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
    parser.add_argument("--exceptions", type=Path, metavar="FILE", help="accepted risk from "
                        "this YAML file (a list under `exceptions:`, e.g. owned by the risk "
                        "team), added to the configuration's own exceptions")
    parser.add_argument("--workers", type=int, help="concurrent API calls at most (default: "
                        "as many as each region's rate and round trip use, 128 at most)")
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
                        "output/history.sqlite), or s3://BUCKET/KEY to keep it in S3 (read at "
                        "the start, written back with a conditional write)")
    parser.add_argument("--no-history", action="store_true", help="do not read or record the "
                        "history for this run")
    parser.add_argument("--baseline", type=Path, help="compare with this earlier scan.json "
                        "instead of the latest recorded run")
    parser.add_argument("--notify-sns", metavar="TOPIC_ARN", help="publish a short summary to "
                        "this SNS topic when something changed (opt-in write to AWS)")
    parser.add_argument("--security-hub", action="store_const", const=True, default=None,
                        help="import the coverage gaps into AWS Security Hub as findings of "
                        "the caller's account in the home region (FAILED), and mark those "
                        "gone since as PASSED (opt-in write)")
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
    """The flags of `aa-scan verify DIR`."""
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
    parser.add_argument("--accept-endpoint", action="append", metavar="URL", help="an "
                        "endpoint that is not AWS's (a proxy you run) to accept as AWS for a "
                        "scan sent through it (repeatable); by default such a scan proves "
                        "nothing about AWS (exit 3)")
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
        "security_hub": args.security_hub,
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


def exit_code(outcome: Outcome, fail_on: FailOn) -> int:
    """The exit code of a run that ran to its end, from what it found (see the module's
    docstring); the warnings a --fail-on new-* gate owes the reader are logged here."""
    if outcome.interrupted_by is not None:
        log.warning("interrupted: what was collected is in %s", outcome.directory / "scan.json")
        return 128 + outcome.interrupted_by
    if not outcome.complete or outcome.verdict is Verdict.INCOMPLETE:
        return EXIT_INCOMPLETE
    if fail_on is FailOn.NEVER:
        return EXIT_OK
    if fail_on in (FailOn.NEW_GAPS, FailOn.NEW_PUBLIC):
        new = outcome.regressions
        if new.history_error:
            log.warning("--fail-on %s: no baseline, because %s; every gap%s counts as new",
                        fail_on.value, new.history_error,
                        " and public finding" if fail_on is FailOn.NEW_PUBLIC else "")
        if new.not_compared_gaps or (fail_on is FailOn.NEW_PUBLIC
                                     and new.not_compared_public):
            log.warning("--fail-on %s: %d gap(s) and %s public finding(s) could not be compared "
                        "with an earlier run (see the changes' 'not compared'): counted as new",
                        fail_on.value, new.not_compared_gaps, new.not_compared_public or 0)
        if fail_on is FailOn.NEW_PUBLIC:
            check_gate(fail_on, new.public_findings is None)
            return EXIT_GAPS if new.gaps or new.public_findings else EXIT_OK
        return EXIT_GAPS if new.gaps else EXIT_OK
    if outcome.gaps:
        return EXIT_GAPS
    if fail_on in FINDINGS_GATES:
        found = (outcome.public_findings if fail_on is FailOn.PUBLIC
                 else outcome.active_findings)
        check_gate(fail_on, found is None)
        if found:
            return EXIT_GAPS
    return EXIT_OK


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


def options_of(args: argparse.Namespace, argv: list[str],
               base: Mapping[str, Any]) -> Options:
    """Every value of the command line, in the one frozen object past the parser: the
    configuration file, the demo's settings (`base`) and the flags, validated; then what
    only the command line says (the demo's variant, --from-json, whether a re-render is
    recorded, the redacted command line)."""
    options = load_options(args.config, _overrides(args), base, args.exceptions)
    return replace(options, demo=args.demo, from_json=args.from_json,
                   record_rerender=args.from_json is not None and bool(args.history),
                   command_line=redacted_command_line(argv))


def _run(args: argparse.Namespace, signals: _Signals, argv: list[str]) -> int:
    """Options from the command line (inside the demo world, with --demo), then the run."""
    with ExitStack() as stack:
        base: Mapping[str, Any] = {}
        if args.from_json and args.exceptions:
            # A re-render renders what its scan decided: exceptions applied afresh to an old
            # scan would be a judgement of its own, made today and signed as that scan's.
            raise ConfigError("--exceptions applies to a scan: a re-render (--from-json) "
                              "keeps the exceptions its scan.json was judged with")
        if args.demo:
            if args.profile or args.from_json:
                raise ConfigError("--demo cannot be combined with --profile or --from-json")
            base = stack.enter_context(demo_world(args.demo))
        options = options_of(args, argv, base)
        if not args.debug:
            set_level(options.log.level)
        if options.from_json is None:
            check_gate(options.fail_on, options.coverage_only)
        if options.log.file is not None:
            add_file_log(options.log.file, options.log.max_bytes, options.log.backups)
        return exit_code(run(options, signals), options.fail_on)


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
                hashes_only=args.hashes_only,
                accepted_endpoints=tuple(args.accept_endpoint or ()))


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
    """The `aa-scan` console script."""
    sys.exit(main())
