"""`aa-scan verify DIR`: is this folder the one an aa-scan live scan wrote, and who says so?

Every artifact the manifest names is re-hashed; a file missing, changed, or present but not
named is one problem line naming the file. That proves the files match manifest.json, and
nothing more: whoever can rewrite the folder can rewrite manifest.json too. Who wrote it is
proved only by manifest.json.sig, checked against a key the auditor pinned from outside the
folder: `--public-key PEM` (checked offline) or `--key-arn ARN` (checked by kms:Verify with
that key). The public key and the key ARN inside the pack are the signer's claims: they show
that the signature is consistent, never whose it is.

The outcome is one of:
- TAMPERED: some file, the manifest or the signature is not what was written (or signed by
  another key than the pinned one);
- AUTHENTICATED: every file matches, and the signature is by the pinned key, of a live scan;
- NOT_AUTHENTICATED: every file matches, but that is all that was proved (unsigned; signed
  by a key nobody pinned; or a re-render or a demo, which no signature makes a live scan),
  and the report's last line says what was and was not proved;
- HASHES_ONLY: asked for (`--hashes-only`): every file matches, and no key was checked.

A folder or manifest that cannot be read at all raises ManifestError: that is no answer
about the pack. The folder may have been prepared by an attacker: every file is read through
evidence.files (no symbolic link followed, no FIFO or device opened for reading, sizes
capped), and a name in the manifest that leads out of the folder is tampering.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from reports.document.pack import MANIFEST_NAME, SIGNATURE_NAME
from reports.document.rules import one_line

from .files import (
    SIGNATURE_LIMIT,
    FileProblem,
    digest_regular,
    list_files,
    open_folder,
    read_regular,
)
from .manifest import (
    PACK_FILES,
    Manifest,
    ManifestError,
    manifest_file_error,
    parse_manifest,
    read_manifest_bytes,
    unsafe_artifacts,
)
from .signature import (
    KEY_ARN,
    Signed,
    check_with_key,
    check_with_kms,
    load_public_key,
    parse_signature,
    public_key_fingerprint,
)

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


class Outcome(Enum):
    AUTHENTICATED = "authenticated"
    NOT_AUTHENTICATED = "not authenticated"
    HASHES_ONLY = "hashes only"
    TAMPERED = "tampered"


@dataclass(frozen=True)
class Pins:
    """What the auditor brings from outside the folder: the key the pack must be signed by
    (its PEM, or its ARN to ask kms:Verify about), and how to reach KMS."""

    public_key: str | None = None  # PEM, already checked to be a public key
    key_arn: str | None = None  # a key ARN (KEY_ARN)
    online: Callable[[str], KMSClient] | None = None  # a KMS client for a key ARN
    hashes_only: bool = False
    # Endpoints that are not AWS's that the auditor accepts as AWS (a proxy they run).
    accepted_endpoints: tuple[str, ...] = ()

    @property
    def pinned(self) -> bool:
        return self.public_key is not None or self.key_arn is not None


@dataclass
class Verification:
    """What verify found: problems (each names a file), what the manifest says the pack is
    evidence of, and what the signature proved."""

    directory: Path
    hashes_only: bool = False
    artifacts: int | None = 0  # None: manifest.json was not read
    problems: list[str] = field(default_factory=list)
    evidence_of: str = ""
    proved_signer: str | None = None  # the pinned key, when the signature is by it
    signature_note: str = "not signed"
    unproved: list[str] = field(default_factory=list)  # why it is not an authenticated live scan

    @property
    def outcome(self) -> Outcome:
        if self.problems:
            return Outcome.TAMPERED
        if self.hashes_only:
            return Outcome.HASHES_ONLY
        if self.proved_signer is not None and not self.unproved:
            return Outcome.AUTHENTICATED
        return Outcome.NOT_AUTHENTICATED

    def lines(self) -> list[str]:
        """The report: one line per problem, then the conclusion."""
        where = one_line(str(self.directory))
        outcome = self.outcome
        if outcome is Outcome.TAMPERED:
            counted = "" if self.artifacts is None else f" ({self.artifacts} artifact(s))"
            return [
                *self.problems,
                f"TAMPERED {where}: {len(self.problems)} problem(s) against {MANIFEST_NAME}"
                f"{counted}",
            ]
        intact = (
            f"INTACT {where}: {self.artifacts} artifact(s) match {MANIFEST_NAME}, "
            f"{self.evidence_of}"
        )
        matched = f"the {self.artifacts} artifact(s) match {MANIFEST_NAME}"
        if outcome is Outcome.AUTHENTICATED:
            return [intact, f"AUTHENTICATED: {self.proved_signer}"]
        if outcome is Outcome.HASHES_ONLY:
            return [
                intact,
                f"HASHES ONLY (--hashes-only): proved: {matched}; signature: "
                f"{self.signature_note}. Not proved: who wrote {MANIFEST_NAME} (no key was "
                "checked): whoever can rewrite the folder can rewrite it too",
            ]
        proved = [matched]
        if self.proved_signer is not None:
            proved.append(self.proved_signer)
        else:
            proved.append(f"signature: {self.signature_note}")
        return [
            intact,
            f"NOT AUTHENTICATED: proved: {'; '.join(proved)}. Not proved: "
            + "; ".join(self.unproved),
        ]


def _short(sha: str) -> str:
    return one_line(f"{sha[:16]}…")


def _text(value: Any) -> str:
    """A value of the manifest for a report line: any JSON value, on one line."""
    return one_line(str(value)) if value not in (None, "") else "unknown"


def _check_artifacts(
    directory: Path, folder: int, manifest: Manifest, result: Verification
) -> None:
    unsafe = unsafe_artifacts(manifest)
    named = {entry["path"] for entry in manifest["artifacts"]}
    result.artifacts = len(named)
    for name in dict.fromkeys(unsafe):
        result.problems.append(
            f"UNSAFE {one_line(name)}: {MANIFEST_NAME} names a path that is not a file of "
            "the run folder"
        )
    for entry in manifest["artifacts"]:
        if entry["path"] in unsafe:
            continue
        name = one_line(entry["path"])
        try:
            size, sha = digest_regular(entry["path"], dir_fd=folder, expected_size=entry["bytes"])
        except FileProblem as problem:
            if problem.kind == "missing":
                result.problems.append(
                    f"MISSING {name}: named in {MANIFEST_NAME}, not in the folder"
                )
            elif problem.kind == "unreadable":
                result.problems.append(f"UNREADABLE {name}: {problem.text}")
            else:
                result.problems.append(f"CHANGED {name}: {problem.text}")
            continue
        if size != entry["bytes"]:
            result.problems.append(
                f"CHANGED {name}: {size:,} bytes, {MANIFEST_NAME} recorded {entry['bytes']:,} bytes"
            )
        elif sha != entry["sha256"]:
            result.problems.append(
                f"CHANGED {name}: SHA-256 {_short(sha)} ({size:,} bytes), {MANIFEST_NAME} "
                f"recorded {_short(entry['sha256'])} ({entry['bytes']:,} bytes)"
            )
    found, unlisted = list_files(folder)
    for name in found:
        if name not in named and name not in PACK_FILES:
            result.problems.append(
                f"ADDED {one_line(name)}: in the folder, not named in {MANIFEST_NAME}"
            )
    for name in unlisted:
        result.problems.append(
            f"UNREADABLE {one_line(name)}/: a folder that could not be listed, so what it "
            "holds cannot be checked"
        )


# -- what the pack says it is evidence of ------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


@cache
def _aws_domains() -> tuple[str, ...]:
    """The DNS suffixes of AWS's partitions, as botocore knows them (amazonaws.com, api.aws,
    amazonaws.com.cn, the GovCloud and ISO ones...)."""
    import botocore.loaders

    partitions = botocore.loaders.create_loader().load_data("partitions")["partitions"]
    return tuple(sorted({suffix for p in partitions for key in ("dnsSuffix", "dualStackDnsSuffix")
                         if (suffix := p["outputs"].get(key))}))


def aws_endpoint(url: str) -> bool:
    """Whether an endpoint is AWS's own: https, on a host of an AWS partition's domain."""
    parsed = urlsplit(url)
    host = (parsed.hostname or "").lower().rstrip(".")
    return parsed.scheme == "https" and any(
        host == domain or host.endswith("." + domain) for domain in _aws_domains())


def source_text(manifest: Mapping[str, Any], accepted: tuple[str, ...] = ()
                ) -> tuple[str, str | None]:
    """(what kind of run wrote the pack, in words; why that is not a live scan of AWS, or
    None). A live scan whose calls went to endpoints that are not AWS's (a simulator, a
    proxy) proves nothing about AWS, unless the auditor accepts those endpoints."""
    source = _mapping(manifest.get("source"))
    kind = source.get("kind")
    overrides = _mapping(source.get("endpoint_overrides"))
    through = ""
    if overrides:
        through = " through " + ", ".join(
            f"{_text(k)}={_text(v)}" for k, v in sorted(overrides.items())
        )
    if kind == "live":
        elsewhere = sorted(f"{_text(k)}={_text(v)}" for k, v in overrides.items()
                           if not (isinstance(v, str) and (aws_endpoint(v) or v in accepted)))
        if elsewhere:
            return f"a live scan{through}", (
                "that AWS was scanned: its calls went to " + ", ".join(elsewhere)
                + ", not to an AWS endpoint (--accept-endpoint URL accepts one you trust)")
        return f"a live scan{through}", None
    if kind == "re-render":
        given = _mapping(source.get("input"))
        sha = given.get("sha256")
        run = _text(given.get("run_id"))
        anchor = given.get("pack_manifest_sha256")
        held = (
            f"the scan.json run {run}'s own pack names (that pack's {MANIFEST_NAME}: SHA-256 "
            f"{_short(_text(anchor))})" if anchor else
            f"not found in a pack of run {run} (no {MANIFEST_NAME} of that run naming it was "
            "beside it)" if "pack_manifest_sha256" in given else "its pack not looked for"
        )
        what = (
            f"a re-render (--from-json) of a scan.json with SHA-256 "
            f"{_short(_text(sha))} (run {run}; {held})"
        )
        return what, (
            f"that a live scan wrote these reports: they are {what}; verify that run's own pack"
        )
    if kind == "demo":
        return (
            f"a demo scan of the simulated organization{through}",
            "that AWS was scanned: it is a demo scan of the simulated organization",
        )
    return "from an unrecorded source", (
        f"that a live scan wrote it: {MANIFEST_NAME} does not record its source (written "
        "before aa-scan recorded it, or by something else)"
    )


def _folder_text(directory: Path, manifest: Mapping[str, Any]) -> str:
    name = directory.resolve().name
    run_id = manifest.get("run_id")
    written = manifest.get("run_folder")
    shown = one_line(name)
    if name == run_id:
        return "the folder's name is its run id"
    if not isinstance(written, str):
        return f"the folder's name ({shown}) is not its run id"
    if written == name:
        return (
            f"the folder's name ({shown}) is not its run id: it was written under this name "
            "(--output-dir)"
        )
    return (
        f"the folder's name ({shown}) is not its run id nor the name it was written under "
        f"({one_line(written)}): a copy, renamed"
    )


def evidence_text(directory: Path, manifest: Mapping[str, Any]) -> str:
    """What the manifest says the pack is evidence of, for the INTACT line."""
    identity = _mapping(manifest.get("identity"))
    organization = _mapping(manifest.get("organization"))
    what, _ = source_text(manifest)
    return (
        f"which records run {_text(manifest.get('run_id'))} ({what}), started "
        f"{_text(manifest.get('started_at'))} from account {_text(identity.get('account_id'))} "
        f"in organization {_text(organization.get('id'))}; {_folder_text(directory, manifest)}"
    )


# -- the signature -------------------------------------------------------------------------------


def _check_pinned(signed: Signed, pins: Pins, how: str, result: Verification) -> bool:
    """The signature against the key the auditor pinned, when there is one: False when it
    is not by that key (a problem is recorded)."""
    claimed = one_line(signed.key_arn)
    if pins.public_key is not None:
        key = load_public_key(pins.public_key)
        problem = (
            "the pinned public key cannot be read" if key is None else check_with_key(signed, key)
        )
        if problem is not None:
            result.problems.append(
                f"SIGNATURE {SIGNATURE_NAME}: not by the pinned public key ({problem}; it "
                f"claims key {claimed})"
            )
            return False
        result.proved_signer = (
            f"{MANIFEST_NAME} is signed by the key pinned with --public-key (it names itself "
            f"{claimed}; {how}, checked offline)"
        )
    if pins.key_arn is not None and pins.online is not None:
        problem = check_with_kms(pins.online(pins.key_arn), pins.key_arn, signed)
        if problem is not None:
            result.problems.append(f"SIGNATURE {SIGNATURE_NAME}: {problem} (key {pins.key_arn})")
            return False
        if result.proved_signer is None:
            result.proved_signer = (
                f"{MANIFEST_NAME} is signed by {pins.key_arn}, the key pinned with --key-arn "
                f"({how}, checked by kms:Verify)"
            )
    return True


def _ask_kms_too(signed: Signed, pins: Pins, result: Verification) -> None:
    """kms:Verify about the key the signature names, asked for beside a pinned public key."""
    assert pins.online is not None
    key_arn = one_line(signed.key_arn)
    if not KEY_ARN.match(signed.key_arn):
        result.problems.append(
            f"SIGNATURE {SIGNATURE_NAME}: its key ARN is not a KMS key ARN, so kms:Verify "
            f"cannot be asked (key {key_arn}, {one_line(signed.algorithm)})"
        )
        return
    problem = check_with_kms(pins.online(signed.key_arn), signed.key_arn, signed)
    if problem is not None:
        result.problems.append(f"SIGNATURE {SIGNATURE_NAME}: {problem} (key {key_arn})")
    elif result.proved_signer is not None:
        result.proved_signer += f"; kms:Verify agrees it is {key_arn}'s"


def _check_bindings(signed: Signed, manifest: Manifest, pins: Pins, result: Verification) -> None:
    """What the signature says against what the manifest says, and against the pins."""
    problems = result.problems
    key_arn = one_line(signed.key_arn)
    signing = _mapping(manifest.get("signing"))
    if signed.bound and signed.run_id != manifest.get("run_id"):
        problems.append(
            f"SIGNATURE {SIGNATURE_NAME}: signed for run {one_line(str(signed.run_id))}, but "
            f"{MANIFEST_NAME} is of run {_text(manifest.get('run_id'))}"
        )
    if signing and signed.key_arn != signing.get("key_arn"):
        problems.append(
            f"SIGNATURE {SIGNATURE_NAME}: signed by {key_arn}, but {MANIFEST_NAME} says the "
            f"pack is signed by {_text(signing.get('key_arn'))}"
        )
    fingerprint = public_key_fingerprint(signed.public_key_pem)
    if signing and fingerprint != signing.get("public_key_sha256"):
        problems.append(
            f"SIGNATURE {SIGNATURE_NAME}: its public key is not the one {MANIFEST_NAME} records"
        )
    if pins.key_arn is not None and signed.key_arn != pins.key_arn:
        problems.append(
            f"SIGNATURE {SIGNATURE_NAME}: signed by {key_arn}, not by the pinned key {pins.key_arn}"
        )


def _check_signature(
    signed: Signed, manifest: Manifest, data: bytes, pins: Pins, result: Verification
) -> None:
    """The signature against the manifest's bytes, the pinned key, the manifest's own
    records; without a pin, against the public key it holds (and kms:Verify with --online)."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != signed.manifest_sha256:
        result.problems.append(
            f"CHANGED {MANIFEST_NAME}: SHA-256 {_short(digest)}, {SIGNATURE_NAME} signed "
            f"{_short(signed.manifest_sha256)}"
        )
        return
    version = manifest["manifest_version"]
    if not signed.bound and version >= 2:
        # aa-scan never wrote this pair: a version 1 signature (a bare SHA-256, which a key
        # used elsewhere might have signed) does not stand for a manifest that has its own.
        result.problems.append(
            f"SIGNATURE {SIGNATURE_NAME}: a version 1 signature on a version {version} "
            f"{MANIFEST_NAME}, which aa-scan signs with a statement"
        )
        return
    how = f"{signed.algorithm}, signed {one_line(signed.signed_at)}"
    if not signed.bound:
        how += "; a version 1 signature: it covers manifest.json only, not its key ARN or time"
    if not _check_pinned(signed, pins, how, result):
        return
    _check_bindings(signed, manifest, pins, result)
    if result.problems:
        return
    if pins.pinned:
        if pins.online is not None and pins.key_arn is None:
            _ask_kms_too(signed, pins, result)  # --online beside --public-key
        return
    key_arn = one_line(signed.key_arn)
    embedded = load_public_key(signed.public_key_pem)
    problem = (
        "the public key in it is not a PEM public key"
        if embedded is None
        else check_with_key(signed, embedded)
    )
    if problem is not None:
        result.problems.append(
            f"SIGNATURE {SIGNATURE_NAME}: {problem} (with the public key in it; key {key_arn}, "
            f"{one_line(signed.algorithm)})"
        )
        return
    if pins.online is not None:
        if not KEY_ARN.match(signed.key_arn):
            result.problems.append(
                f"SIGNATURE {SIGNATURE_NAME}: its key ARN is not a KMS key ARN, so kms:Verify "
                f"cannot be asked (key {key_arn}, {one_line(signed.algorithm)})"
            )
            return
        problem = check_with_kms(pins.online(signed.key_arn), signed.key_arn, signed)
        if problem is not None:
            result.problems.append(f"SIGNATURE {SIGNATURE_NAME}: {problem} (key {key_arn})")
            return
        result.signature_note = f"valid for KMS key {key_arn}, says kms:Verify ({how})"
        result.unproved.append(
            f"that {key_arn} is the key you expect: anyone can sign a folder with a key of their "
            "own; pin it with --key-arn ARN or --public-key PEM, obtained apart from this folder"
        )
        return
    result.signature_note = (
        f"consistent with the public key it holds, which claims to be {key_arn} ({how})"
    )
    result.unproved.append(
        "who signed it: the public key and key ARN in the folder are the signer's own claim "
        "(anyone can sign a folder with a key of their own); pin the key you expect with "
        "--public-key PEM (aws kms get-public-key) or --key-arn ARN (checked by kms:Verify)"
    )


def verify_folder(directory: Path, pins: Pins | None = None) -> Verification:
    """Verify a run folder against what the auditor pinned."""
    pins = pins or Pins()
    result = Verification(directory, hashes_only=pins.hashes_only)
    try:
        data = read_manifest_bytes(directory)
    except FileProblem as link:
        if link.kind != "symlink":
            raise manifest_file_error(directory, link) from None
        # A link is a file someone put there, as for any other file of the folder.
        result.problems.append(f"CHANGED {MANIFEST_NAME}: {link.text}, not the file aa-scan wrote")
        result.artifacts = None
        return result
    manifest = parse_manifest(data, str(directory / MANIFEST_NAME))
    try:
        folder = open_folder(directory)
    except OSError as exc:
        raise ManifestError(f"{directory}: cannot read: {exc.strerror or exc}") from None
    try:
        _check_artifacts(directory, folder, manifest, result)
        try:
            raw: bytes | None = read_regular(SIGNATURE_NAME, SIGNATURE_LIMIT, dir_fd=folder)
        except FileProblem as unreadable:
            if unreadable.kind != "missing":
                result.problems.append(f"UNREADABLE {SIGNATURE_NAME}: {unreadable.text}")
                return result
            raw = None
    finally:
        os.close(folder)
    result.evidence_of = evidence_text(directory, manifest)
    _, not_live = source_text(manifest, pins.accepted_endpoints)
    signing = _mapping(manifest.get("signing"))
    # Since manifest_version 2 the manifest says itself whether a signature follows (an
    # interrupted run is not signed, whatever its configuration asked).
    configured = (
        _mapping(manifest.get("configuration")).get("sign_kms_key")
        if manifest["manifest_version"] < 2
        else None
    )
    if raw is None:
        if signing or configured:
            result.problems.append(
                f"MISSING {SIGNATURE_NAME}: {MANIFEST_NAME} says the pack was signed with "
                f"{_text(signing.get('key_arn') or configured)}"
            )
        elif pins.pinned:
            result.problems.append(
                f"MISSING {SIGNATURE_NAME}: a signature by the pinned key was asked for"
            )
        result.signature_note = "not signed"
        result.unproved.append(
            f"who wrote {MANIFEST_NAME}: it is not signed, and whoever can rewrite the folder "
            "can rewrite it too (sign with --sign-kms-key; --hashes-only checks the hashes alone)"
        )
    else:
        signed = parse_signature(raw)
        if signed is None:
            result.problems.append(
                f"SIGNATURE {SIGNATURE_NAME}: not a signature file aa-scan wrote"
            )
            return result
        if manifest["manifest_version"] >= 2 and not signing:
            result.problems.append(
                f"SIGNATURE {SIGNATURE_NAME}: {MANIFEST_NAME} says the pack is not signed, "
                "yet a signature was added beside it"
            )
            return result
        _check_signature(signed, manifest, data, pins, result)
    if not_live is not None:
        result.unproved.append(not_live)
    return result
