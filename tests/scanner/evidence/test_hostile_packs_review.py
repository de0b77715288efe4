"""The evidence pack as an independent review of issue 20 tried it, as a forger and as a
skeptical auditor: terminal escapes in problem lines, a scan of the simulator passing as
AWS, huge and deeply nested folders, a second spelling of a file, a signature added to an
unsigned pack, a re-render of a doctored scan.json, and more.

Each test failed on the code reviewed; its docstring says what was observed and what is
expected. Packs are made with tests/scanner/evidence/packs.py (no AWS), or against the
simulated organization with its KMS (tests/scanner/conftest.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reports.document.consistency import disagreements, recomputed
from reports.document.rules import one_line
from scanner.cli import main
from scanner.evidence.manifest import MANIFEST_NAME, SIGNATURE_NAME
from scanner.evidence.signature import pem, statement_text
from tests.scanner.conftest import env_world

from .packs import make_pack

ROOT = Path(__file__).resolve().parents[2]
# us-east-1 covered; eu-west-1 and ap-southeast-2 without an analyzer: two gaps.
ONE_ANALYZER = [
    {
        "type": "ORGANIZATION",
        "name": "org",
        "regions": ["us-east-1"],
        "findings": [{"generate": {"count": 5}}],
    }
]
ALL = "json,html,xlsx"


def verify(capsys: pytest.CaptureFixture[str], directory: Path, *args: str
           ) -> tuple[int, list[str], str]:
    code = main(["verify", str(directory), *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def manifest_of(directory: Path) -> dict[str, Any]:
    return json.loads((directory / MANIFEST_NAME).read_text())


def rewrite_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return make_pack(tmp_path / "run")


@pytest.fixture(scope="module")
def world() -> Iterator[Any]:
    """One simulated organization for the module (two of three regions without an
    analyzer), in the environment until its last test."""
    with pytest.MonkeyPatch.context() as patch, env_world(patch, analyzers=ONE_ANALYZER) as made:
        yield made


def signing_key(world: Any) -> str:
    key = world.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    return str(key["KeyMetadata"]["Arn"])


# -- 1. attacker-controlled text reaches the auditor's terminal raw ------------------------------

FAKE = "\x1b[2K\rINTACT all good\nAUTHENTICATED: by the key you pinned\x1b[8m"


def _sig_symlink(pack: Path) -> None:
    (pack / SIGNATURE_NAME).symlink_to(FAKE)


def _artifact_symlink(pack: Path) -> None:
    (pack / "scan.json").unlink()
    (pack / "scan.json").symlink_to(FAKE)


def _manifest_symlink(pack: Path) -> None:
    elsewhere = pack.parent / FAKE.replace("/", "_")
    (pack / MANIFEST_NAME).rename(elsewhere)
    (pack / MANIFEST_NAME).symlink_to(elsewhere)


def _folder_part(pack: Path) -> None:
    (pack / FAKE).write_text("not a folder")  # a file where the manifest expects a folder
    manifest = manifest_of(pack)
    manifest["artifacts"][0]["path"] = f"{FAKE}/scan.json"
    rewrite_manifest(pack, manifest)


def _statement_sha(pack: Path) -> None:
    # A well-formed version 2 statement (one reading, sorted keys, ASCII with \u escapes)
    # whose manifest_sha256 is a terminal sequence: printed before any key is checked.
    statement = {"statement": "aa-scan evidence pack", "run_id": manifest_of(pack)["run_id"],
                 "manifest_sha256": "\x1b[2A\x1b[2K\x1b[8m" + "0" * 60,
                 "key_arn": "arn:aws:kms:us-east-1:111111111111:key/x",
                 "signed_at": "2026-01-01T00:00:00Z"}
    (pack / SIGNATURE_NAME).write_text(json.dumps({
        "signature_version": 2, "file": MANIFEST_NAME, "statement": statement_text(statement),
        "message": "", "message_type": "RAW", "key_spec": "ECC_NIST_P256",
        "algorithm": "ECDSA_SHA_256", "signature": base64.b64encode(b"x" * 70).decode(),
        "public_key_pem": "x"}))


@pytest.mark.parametrize("plant", [_sig_symlink, _artifact_symlink, _manifest_symlink,
                                   _folder_part, _statement_sha],
                         ids=["signature-link-target", "artifact-link-target",
                              "manifest-link-target", "folder-part-name",
                              "statement-manifest-sha256"])
def test_no_problem_line_carries_terminal_control_characters(pack, capsys, plant):
    """Observed: the TAMPERED report prints attacker text raw: a symbolic link's target
    (FileProblem text from readlink, for manifest.json.sig, an artifact or manifest.json), the
    folder part of a manifest path ("X is not a plain folder") and the first 16 characters of
    the statement's manifest_sha256 (a \\u001b escape is valid canonical JSON) are not passed
    through one_line. The hostile pack prints lines of its own ("INTACT all good",
    "AUTHENTICATED: by the key you pinned") and ESC[8m conceals the real TAMPERED line that
    follows on the auditor's terminal (the exit code is still 1).
    Expected: every line is one line of text, control characters shown as [U+XXXX], as the
    run id and the file names already are. Fix: one_line() the FileProblem texts (readlink
    target, folder part) and _short(signed.manifest_sha256) (or refuse a statement whose
    manifest_sha256 is not 64 lowercase hex digits in parse_signature)."""
    plant(pack)
    code, lines, _ = verify(capsys, pack)
    assert code == 1
    assert lines[-1].startswith("TAMPERED ")
    for line in lines:
        assert line == one_line(line), repr(line)
    assert not any(line.startswith(("INTACT", "AUTHENTICATED")) for line in lines)


# -- 2. hostile folders that still end in an internal error (exit 4) --------------------------


@pytest.mark.parametrize("name", [".", "./", "./."])
def test_a_manifest_naming_the_folder_itself_is_tampered_not_an_internal_error(pack, capsys,
                                                                               name):
    """Observed: an artifact path "." (or "./", "./.") makes safe_path() index
    PurePosixPath(".").parts[0] of an empty tuple: IndexError, "internal error", exit 4.
    Expected: UNSAFE ., exit 1 (a name that is not a file of the folder), like "..", "/" or
    "". Fix: `path.parts and path.parts[0] != ""`, or better, accept only the canonical
    form (see test_a_file_listed_twice_under_another_spelling...)."""
    manifest = manifest_of(pack)
    manifest["artifacts"].append({"path": name, "bytes": 1, "sha256": "0" * 64})
    rewrite_manifest(pack, manifest)
    code, lines, err = verify(capsys, pack)
    assert "internal error" not in err
    assert code == 1, err
    assert lines[0].startswith(f"UNSAFE {name}: ")


def _nest(top: Path, name: str, depth: int) -> list[str]:
    """`depth` folders named `name`, one inside the other, under top (made through file
    descriptors: the path grows longer than PATH_MAX); a file at the bottom."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        leaf = os.open("report.html", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
        os.write(leaf, b"<h1>COMPLIANT</h1>")
        os.close(leaf)
    finally:
        os.close(fd)
    return [name] * depth


def _unnest(top: Path, names: list[str]) -> None:
    """Remove what _nest made, bottom up, without recursion or long paths."""
    fds = [os.open(top, os.O_RDONLY | os.O_DIRECTORY)]
    for name in names:
        fds.append(os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
    os.unlink("report.html", dir_fd=fds[-1])
    for name in reversed(names):
        os.close(fds.pop())
        os.rmdir(name, dir_fd=fds[-1])
    os.close(fds.pop())


@pytest.mark.parametrize("name, depth", [("a", 1200), ("d" * 200, 30)],
                         ids=["1200-folders-deep", "path-longer-than-PATH_MAX"])
def test_an_added_folder_nested_deep_is_tampered_not_an_internal_error(pack, capsys, name,
                                                                       depth):
    """Observed: _files() walks the folder with os.walk (recursive on Python 3.11, which
    pyproject allows) by path: 1,200 nested folders raise RecursionError, and a path longer
    than PATH_MAX raises OSError ENAMETOOLONG from Path.is_symlink(); both "internal error",
    exit 4, for a pack holding one file the manifest does not name.
    Expected: ADDED <that file>, exit 1 ("hostile packs get an answer"). Fix: list the
    folder iteratively through directory descriptors (os.fwalk with dir_fd, or an explicit
    stack of os.scandir(fd)), never by path, and report an unlistable folder as a problem
    instead of skipping it (os.walk's default onerror hides it)."""
    names = _nest(pack, name, depth)
    try:
        code, lines, err = verify(capsys, pack, "--hashes-only")
    finally:
        _unnest(pack, names)
    assert "internal error" not in err, err[:300]
    assert code == 1
    assert lines[0].startswith("ADDED ")


def test_a_huge_artifact_of_the_recorded_size_does_not_keep_verify_busy(pack, tmp_path):
    """Observed: an artifact is hashed whenever its size is the one the manifest records, so a
    forged manifest naming a sparse 4 TiB file with "bytes": 4 TiB keeps verify hashing zeros
    for an hour or more. It does so before the signature is looked at, so pinning the key
    (--public-key / --key-arn) does not help: a bad signature is found only afterwards.
    Expected: an answer within seconds ("hostile packs get an answer, quickly"): e.g. a cap
    on an artifact's size (aa-scan's reports are megabytes), and the signature checked first
    when a key is pinned (a manifest the pinned key did not sign is TAMPERED at once).
    Run in a subprocess so the hashing can be killed."""
    with open(pack / "scan.json", "r+b") as stream:
        stream.truncate(1 << 42)  # sparse: no disk
    manifest = manifest_of(pack)
    manifest["artifacts"] = [{"path": "scan.json", "bytes": 1 << 42,
                              "sha256": hashlib.sha256(b"forged").hexdigest()}]
    rewrite_manifest(pack, manifest)
    try:
        subprocess.run([sys.executable, str(ROOT / "run_scan.py"), "verify", str(pack),
                        "--hashes-only"], cwd=ROOT, capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("verify was still hashing a 4 TiB sparse artifact after 10 s")


# -- 3. the same file listed twice, under another spelling -------------------------------------


@pytest.mark.parametrize("alias", ["./scan.json", "././scan.json"])
def test_a_file_listed_twice_under_another_spelling_is_unsafe(pack, capsys, alias):
    """Observed: unsafe_artifacts() flags a name listed twice only when the strings are equal;
    "scan.json" and "./scan.json" (PurePosixPath normalises "./" away, the folder-by-folder
    open follows ".") are both hashed, both match, and verify says INTACT, "2 artifact(s)
    match", exit 0 with --hashes-only: one file counted as two artifacts.
    Expected: UNSAFE ./scan.json (a manifest aa-scan wrote names each file once, in its
    canonical form), exit 1. Fix: safe_path() accepts a name only when
    PurePosixPath(name).as_posix() == name and no part is "." or ""."""
    manifest = manifest_of(pack)
    entry = dict(manifest["artifacts"][0])
    manifest["artifacts"].append({**entry, "path": alias})
    rewrite_manifest(pack, manifest)
    code, lines, _ = verify(capsys, pack, "--hashes-only")
    assert code == 1, lines
    assert lines[0].startswith(f"UNSAFE {alias}: ")


# -- 4. a "live scan" of the bundled simulator -------------------------------------------------


def test_a_signed_scan_of_the_simulator_is_not_an_authenticated_live_scan(world, run_scan,
                                                                         capsys):
    """Observed: a scan sent to `python -m simulator serve` through AWS_ENDPOINT_URL (the
    organization, its analyzers and its findings all made up) is recorded as source "live"
    with endpoint_overrides, and, signed by the pinned key, verify exits 0: "AUTHENTICATED:
    manifest.json is signed by ...". The endpoint is named only on the INTACT line; the
    AUTHENTICATED line and the exit code (what a script reads) say a live scan. --demo exits
    3 ("that AWS was scanned"), but the same simulator through an environment variable does
    not. Expected: an AWS endpoint override means AWS was not shown to be scanned: exit 3,
    "Not proved: that AWS was scanned: its calls went to AWS_ENDPOINT_URL=..." (at the least,
    unless every override is an AWS endpoint, *.amazonaws.com / *.api.aws). Note: the e2e
    tests that expect exit 0 run against the simulator, so they would need such an allowance
    or a test-only switch."""
    key = signing_key(world)
    run = run_scan("--sign-kms-key", key, formats=ALL)
    assert run.code == 1, run.err
    overrides = manifest_of(run.directory)["source"]["endpoint_overrides"]
    assert overrides["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    code, lines, _ = verify(capsys, run.directory, "--key-arn", key)
    assert code == 3, lines
    assert "AWS_ENDPOINT_URL" in lines[-1]


def test_an_endpoint_set_in_the_aws_config_file_is_recorded(world, run_scan, capsys,
                                                           monkeypatch, tmp_path):
    """Observed: botocore also takes endpoint_url from the AWS config file (a profile's
    endpoint_url, or a [services] section), and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is not
    set. provenance.endpoint_overrides() reads only AWS_ENDPOINT_URL* variables, so a scan
    of the simulator through ~/.aws/config is recorded as {"kind": "live",
    "endpoint_overrides": {}}; the integrity box says "a live scan of AWS", and verify
    --key-arn says "(a live scan)" and AUTHENTICATED, exit 0.
    Expected: the manifest names the endpoint the calls went to (read from the session's
    resolved configuration, e.g. session.get_config_variable / the clients' meta.endpoint_url,
    for each service used), or aa-scan sets AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true for a
    live scan; either way verify does not call it a live scan of AWS."""
    url = world.environment()["AWS_ENDPOINT_URL"]
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\nendpoint_url = {url}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_ENDPOINT_URL_ACCESSANALYZER")
    key = signing_key(world)
    run = run_scan("--sign-kms-key", key, formats=ALL)
    assert run.code == 1, run.err  # the simulated organization answered
    source = manifest_of(run.directory)["source"]
    code, lines, _ = verify(capsys, run.directory, "--key-arn", key)
    page = (run.directory / "report.html").read_text()
    assert source["endpoint_overrides"] != {}, source
    assert "a live scan of AWS" not in page
    assert code == 3 and "(a live scan)" not in lines[0], lines


# -- 5. a run refused for its baseline leaves a pack that says it is signed ---------------------


def test_a_run_refused_for_its_baseline_leaves_a_pack_that_verifies(world, run_scan, capsys,
                                                                   tmp_path):
    """Observed: with --sign-kms-key and a --baseline of another organization, the scan runs,
    the reports and manifest.json are written (the integrity box: "Signed: yes:
    manifest.json.sig, a signature by KMS key ..."; the manifest: signing = the key), then
    the BaselineError is raised before _finish_pack: nothing is signed. The run's own,
    untouched pack then fails verify, even --hashes-only: "MISSING manifest.json.sig:
    manifest.json says the pack was signed with ...", TAMPERED, exit 1; and its reports
    claim a signature that does not exist.
    Expected: the pack the run leaves verifies (intact: exit 0 with --hashes-only), and
    its reports do not claim a signature it does not have: sign it before raising the
    refusal, or (as for an interrupted run) write it unsigned from the start
    (pack.signer = None: the box says "no", the manifest's signing is null)."""
    key = signing_key(world)
    first = run_scan(formats="json")
    other = json.loads((first.directory / "scan.json").read_text())
    other["organization"]["id"] = "o-zzzzzzzzzz"
    baseline = tmp_path / "other-org.json"
    baseline.write_text(json.dumps(other))
    run = run_scan("--sign-kms-key", key, "--baseline", str(baseline), formats=ALL)
    assert run.code == 2 and "cannot be compared" in run.err
    assert not (run.directory / SIGNATURE_NAME).exists()
    page = (run.directory / "report.html").read_text()
    code, lines, _ = verify(capsys, run.directory, "--hashes-only")
    assert code == 0, lines
    assert f"a signature by KMS key {key}" not in page


# -- 6. an --output-dir that exists is used with its own permissions -----------------------------


def test_an_existing_empty_output_dir_is_made_private(world, tmp_path, capsys):
    """Observed: output_directory() creates a new run folder 0700, but an existing empty
    --output-dir is used as it is: made 0777 (or 0755) beforehand, it stays so, and the
    pack's folder can be listed (0755) or changed (0777: files renamed, replaced or added by
    any local user) while manifest.json claims it.
    Expected: the run folder is 0700 whichever way it came to exist (chmod it, after checking
    it is the caller's own), or the folder is refused."""
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    code = main(["--output-dir", str(out), "--log-file", "", "--no-history"])
    capsys.readouterr()
    assert code == 1
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


# -- 7. what a re-render and a baseline anchor let pass ------------------------------------------


def doctored(document: dict[str, Any], forge_analyzers: bool = False) -> dict[str, Any]:
    """The document with its GAP regions made COVERED and their gaps removed, the summary
    recomputed; with `forge_analyzers`, each such region also lists a made-up ACTIVE
    organization analyzer, so the document is consistent in every way a re-render checks."""
    edited = json.loads(json.dumps(document))
    for region in edited["regions"]:
        if region["status"] == "GAP":
            region.update(status="COVERED", reason=None,
                          detail="Covered by org (ORGANIZATION).")
            if forge_analyzers:
                region["analyzers"] = [{
                    "name": "org", "type": "ORGANIZATION", "status": "ACTIVE",
                    "arn": f"arn:aws:access-analyzer:{region['region']}:222222222222:"
                           "analyzer/org", "status_reason": None, "created_at": None}]
    edited["gaps"] = [g for g in edited["gaps"] if g["scope"] != "region"]
    edited["summary"].update(recomputed(edited))
    if forge_analyzers:
        assert disagreements(edited) == []
    return edited


def test_a_re_render_refuses_a_region_covered_by_no_analyzer(world, run_scan, tmp_path):
    """Observed: evidence.consistency recomputes the summary, verdict and gaps from the
    regions' statuses, but never a region's status from the region itself: regions set from
    GAP to COVERED while their own analyzers list is still [] (and their gaps removed, the
    summary recomputed) pass; the re-render prints "Verdict: COMPLIANT", exits 0, and
    signs it.
    Expected: refused (exit 2) like any other edited scan.json: a COVERED region names the
    analyzer that covers it (re-judge each region from its analyzers, as scanner/judge.py
    does, or at least require one for COVERED)."""
    run = run_scan(formats="json")
    assert run.code == 1
    source = tmp_path / "edited.json"
    source.write_text(json.dumps(doctored(run.document)))
    render = run_scan("--from-json", str(source), "--sign-kms-key", signing_key(world),
                      formats=ALL)
    assert render.code == 2, render.out[-400:]
    assert "Verdict: COMPLIANT" not in render.out


def test_verify_tells_a_re_render_of_the_runs_own_scan_json_from_an_edited_one(world, run_scan,
                                                                             capsys,
                                                                             tmp_path):
    """Observed: a re-render records only the SHA-256 and run id of the scan.json it read.
    A re-render of run R's own scan.json and a re-render of an edited, self-consistent copy
    of it (all regions COVERED) verify with the same lines, word for word but the hash:
    "a re-render (--from-json) of a scan.json with SHA-256 ... (run R)"; nothing says
    that one of them is not the scan.json R's pack names, although the re-render had that
    pack beside its input (the baseline gets this anchor, the re-render's input does not).
    Expected: the re-render anchors its input as the baseline is anchored (the SHA-256 of
    the manifest beside it when that manifest is R's and names this scan.json; none
    otherwise), and verify says which (e.g. "... run R's own scan.json, its pack's manifest
    SHA-256 ..." vs "... not found in a pack of run R")."""
    key = signing_key(world)
    run = run_scan("--sign-kms-key", key, formats="json")
    edited = tmp_path / "copy" / "scan.json"
    edited.parent.mkdir()
    edited.write_text(json.dumps(doctored(run.document, forge_analyzers=True)))
    shutil.copy(run.directory / MANIFEST_NAME, edited.parent / MANIFEST_NAME)
    honest = run_scan("--from-json", str(run.directory / "scan.json"), "--sign-kms-key", key)
    forged = run_scan("--from-json", str(edited), "--sign-kms-key", key)
    assert (honest.code, forged.code) == (1, 0)

    def said(directory: Path) -> list[str]:
        code, lines, _ = verify(capsys, directory, "--key-arn", key)
        assert code == 3
        sha = manifest_of(directory)["source"]["input"]["sha256"][:16]
        return [re.sub(r"signed \d{4}-\d\d-\d\dT[\d:]+Z", "signed T",
                       line.replace(str(directory), "DIR").replace(sha, "SHA")
                       .replace(directory.name, "NAME")) for line in lines]

    assert said(honest.directory) != said(forged.directory)


def test_a_baseline_from_the_history_is_anchored_only_to_the_pack_it_was(world, monkeypatch,
                                                                        tmp_path, capsys):
    """Observed: run R is scanned without the history (output/R, two gaps); an edited,
    self-consistent copy of its scan.json (no gaps) is imported with --from-json --history:
    the history now holds "run R" as the edited copy. The next scan compares with it (its
    two gaps are "new") and its signed manifest records baseline = {run_id R, source
    history, manifest_sha256: SHA-256 of output/R/manifest.json}: anchored to R's authentic
    pack, which names a different scan.json than the one compared with. For a --baseline
    FILE, _manifest_of() checks that the manifest names that file's SHA-256; for the
    history's choice it checks nothing but the run id.
    Expected: the anchor is given only when the history's copy is the scan.json that
    manifest names (the history keeps the SHA-256 of the document it recorded, or the
    baseline record says it was imported), else manifest_sha256 is null."""
    monkeypatch.chdir(tmp_path)
    assert main(["--log-file", "", "--format", "json", "--no-history"]) == 1
    (original,) = (tmp_path / "output").iterdir()
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doctored(json.loads((original / "scan.json").read_text()),
                                             forge_analyzers=True)))
    assert main(["--from-json", str(edited), "--history", "output/history.sqlite",
                 "--output-dir", str(tmp_path / "render"), "--log-file", ""]) == 0
    assert main(["--log-file", "", "--format", "json"]) == 1
    capsys.readouterr()
    (latest,) = [p for p in (tmp_path / "output").iterdir()
                 if p.is_dir() and p != original]
    baseline = manifest_of(latest)["baseline"]
    assert baseline["run_id"] == original.name and baseline["source"] == "history"
    changes = json.loads((latest / "scan.json").read_text())["changes"]
    assert changes["baseline"]["run_id"] == original.name
    # Compared with the edited copy: R's two gaps are "opened" by this run.
    assert len(changes["gaps_opened"]) == 2
    assert baseline["manifest_sha256"] != hashlib.sha256(
        (original / MANIFEST_NAME).read_bytes()).hexdigest()


# -- 8. a signature on a manifest that says it is not signed ------------------------------------


def test_a_signature_on_a_manifest_that_says_unsigned_is_not_authenticated(world, run_scan,
                                                                         capsys):
    """Observed: since manifest_version 2 "the manifest says itself whether a signature
    follows" (signing: null for an unsigned run, and the integrity box of its reports says
    "Signed: no"), but _check_bindings compares the signature with the manifest's signing
    record only when there is one. A statement about an unsigned pack, signed afterwards
    with the pinned key (aws kms sign, any time later: signed_at is not compared with the
    run), verifies AUTHENTICATED, exit 0, while report.html in the same pack says it is
    not signed.
    Expected: a signature on a manifest whose signing is null is not one aa-scan made:
    TAMPERED (or at least not exit 0), as a missing signature on a manifest that names a key
    already is."""
    key = signing_key(world)
    run = run_scan(formats=ALL)
    assert manifest_of(run.directory)["signing"] is None
    kms = world.client("kms")
    statement = statement_text({
        "statement": "aa-scan evidence pack", "run_id": manifest_of(run.directory)["run_id"],
        "manifest_sha256": hashlib.sha256(
            (run.directory / MANIFEST_NAME).read_bytes()).hexdigest(),
        "key_arn": key, "signed_at": "2027-06-01T00:00:00Z"})
    signature = kms.sign(KeyId=key, Message=statement.encode(), MessageType="RAW",
                         SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    (run.directory / SIGNATURE_NAME).write_text(json.dumps({
        "signature_version": 2, "file": MANIFEST_NAME, "statement": statement, "message": "",
        "message_type": "RAW", "key_spec": "ECC_NIST_P256", "algorithm": "ECDSA_SHA_256",
        "signature": base64.b64encode(signature).decode(),
        "public_key_pem": pem(kms.get_public_key(KeyId=key)["PublicKey"])}))
    assert "Signed</dt><dd class=\"small\">no:" in (run.directory / "report.html").read_text()
    code, lines, _ = verify(capsys, run.directory, "--key-arn", key)
    assert code != 0, lines
