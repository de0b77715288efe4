"""`aa-scan verify DIR`: is this folder the one aa-scan wrote?

Every artifact the manifest names is re-hashed; a file missing, changed, or present but not
named is one problem line naming the file. When the folder holds manifest.json.sig, the
signature is checked too: offline with the public key it carries (and, if the auditor holds
the expected key, against that), or by kms:Verify with `--online`. A manifest whose own
configuration says it was signed, in a folder without the signature, is a problem as well.

A folder or manifest that cannot be read at all raises ManifestError: that is no answer
about the pack, and the command exits 2 rather than 1. The folder may have been prepared by
an attacker: every file is read through evidence.files (no symbolic link followed, no FIFO
or device opened for reading, sizes capped), and a name in the manifest that leads out of
the folder is tampering, reported like any other.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from document.rules import one_line

from .files import SIGNATURE_LIMIT, FileProblem, digest_regular, open_folder, read_regular
from .manifest import (
    MANIFEST_NAME,
    PACK_FILES,
    SIGNATURE_NAME,
    Manifest,
    ManifestError,
    manifest_file_error,
    parse_manifest,
    read_manifest_bytes,
    unsafe_artifacts,
)
from .signature import (
    SignatureFile,
    check_offline,
    check_online,
    parse_signature,
    public_key_der,
)

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

# What kms:Verify can be asked about: a key ARN (its region says where to ask).
KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z]{2,}(-[a-z]+)+-\d{1,2}:\d{12}:"
                     r"key/[A-Za-z0-9-]{1,128}$")


@dataclass
class Verification:
    """What verify found: problems (each names a file) and what was checked."""

    directory: Path
    artifacts: int | None = 0  # None: manifest.json was not read
    problems: list[str] = field(default_factory=list)
    signature: str = "not signed"

    @property
    def intact(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """The report: one line per problem, then the conclusion."""
        where = one_line(str(self.directory))
        if self.intact:
            return [f"INTACT {where}: {self.artifacts} artifact(s) match {MANIFEST_NAME}; "
                    f"signature: {self.signature}"]
        counted = "" if self.artifacts is None else f" ({self.artifacts} artifact(s))"
        return [*self.problems,
                f"TAMPERED {where}: {len(self.problems)} problem(s) against {MANIFEST_NAME}"
                f"{counted}"]


def _short(sha: str) -> str:
    return f"{sha[:16]}…"


def _files(directory: Path) -> list[str]:
    """Every file under the folder, by its name relative to it (symbolic links included, not
    followed: a link is a file someone added)."""
    found = []
    for root, folders, names in os.walk(directory, followlinks=False):
        base = Path(root)
        for name in [*names, *(f for f in folders if (base / f).is_symlink())]:
            found.append((base / name).relative_to(directory).as_posix())
    return sorted(found)


def _check_artifacts(directory: Path, folder: int, manifest: Manifest,
                     result: Verification) -> None:
    unsafe = unsafe_artifacts(manifest)
    named = {entry["path"] for entry in manifest["artifacts"]}
    result.artifacts = len(named)
    for name in dict.fromkeys(unsafe):
        result.problems.append(f"UNSAFE {one_line(name)}: {MANIFEST_NAME} names a path that is "
                               "not a file of the run folder")
    for entry in manifest["artifacts"]:
        if entry["path"] in unsafe:
            continue
        name = one_line(entry["path"])
        try:
            size, sha = digest_regular(entry["path"], dir_fd=folder,
                                       expected_size=entry["bytes"])
        except FileProblem as problem:
            if problem.kind == "missing":
                result.problems.append(f"MISSING {name}: named in {MANIFEST_NAME}, not in the "
                                       "folder")
            elif problem.kind == "unreadable":
                result.problems.append(f"UNREADABLE {name}: {problem.text}")
            else:
                result.problems.append(f"CHANGED {name}: {problem.text}")
            continue
        if size != entry["bytes"]:
            result.problems.append(f"CHANGED {name}: {size:,} bytes, {MANIFEST_NAME} recorded "
                                   f"{entry['bytes']:,} bytes")
        elif sha != entry["sha256"]:
            result.problems.append(
                f"CHANGED {name}: SHA-256 {_short(sha)} ({size:,} bytes), {MANIFEST_NAME} "
                f"recorded {_short(entry['sha256'])} ({entry['bytes']:,} bytes)")
    for name in _files(directory):
        if name not in named and name not in PACK_FILES:
            result.problems.append(f"ADDED {one_line(name)}: in the folder, not named in "
                                   f"{MANIFEST_NAME}")


def _expected_key(record: SignatureFile, public_key: str | None,
                  key_arn: str | None) -> str | None:
    if key_arn is not None and record["key_arn"] != key_arn:
        return f"signed by {record['key_arn']}, not by the expected key {key_arn}"
    if public_key is not None:
        expected = public_key_der(public_key)
        if expected is None:
            return "the expected public key given is not a PEM public key"
        if public_key_der(record["public_key_pem"]) != expected:
            return "its public key is not the expected public key"
    return None


def verify_folder(directory: Path, *, public_key: str | None = None,
                  key_arn: str | None = None,
                  online: Callable[[str], KMSClient] | None = None) -> Verification:
    """Verify a run folder. `public_key` (PEM) and `key_arn`: the key the auditor expects
    the signature to be by; `online`: a KMS client for a key ARN, to ask kms:Verify."""
    result = Verification(directory)
    try:
        data = read_manifest_bytes(directory)
    except FileProblem as link:
        if link.kind != "symlink":
            raise manifest_file_error(directory, link) from None
        # A link is a file someone put there, as for any other file of the folder.
        result.problems.append(f"CHANGED {MANIFEST_NAME}: {link.text}, not the file "
                               "aa-scan wrote")
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
    signed_with = manifest.get("configuration", {}).get("sign_kms_key")
    if raw is None:
        if signed_with:
            result.problems.append(f"MISSING {SIGNATURE_NAME}: {MANIFEST_NAME} says the pack was "
                                   f"signed with {one_line(str(signed_with))}")
        elif public_key is not None or key_arn is not None:
            result.problems.append(f"MISSING {SIGNATURE_NAME}: a signature by the expected key "
                                   "was asked for")
        else:
            result.signature = ("not signed (hashes only: whoever can rewrite the folder can "
                                "rewrite manifest.json too)")
        return result
    record = parse_signature(raw)
    if record is None:
        result.problems.append(f"SIGNATURE {SIGNATURE_NAME}: not a signature file aa-scan wrote")
        return result
    digest = hashlib.sha256(data).hexdigest()
    if digest != record["manifest_sha256"]:
        result.problems.append(f"CHANGED {MANIFEST_NAME}: SHA-256 {_short(digest)}, "
                               f"{SIGNATURE_NAME} signed {_short(record['manifest_sha256'])}")
    wrong_key = _expected_key(record, public_key, key_arn)
    if wrong_key is not None:
        result.problems.append(f"SIGNATURE {SIGNATURE_NAME}: {wrong_key}")
    if online is not None:
        how = "checked by kms:Verify"
        problem = (check_online(online(record["key_arn"]), record, data)
                   if KEY_ARN.match(record["key_arn"])
                   else "its key ARN is not a KMS key ARN, so kms:Verify cannot be asked")
    else:
        problem = check_offline(record, data)
        how = ("checked offline with the public key in the file"
               + (", the expected one" if public_key is not None else ""))
    if problem is None:
        result.signature = (f"valid, {one_line(record['algorithm'])} by "
                            f"{one_line(record['key_arn'])}, signed "
                            f"{one_line(record['signed_at'])} ({how})")
    elif digest == record["manifest_sha256"]:  # otherwise the CHANGED line says it already
        result.problems.append(f"SIGNATURE {SIGNATURE_NAME}: {problem} (key "
                               f"{one_line(record['key_arn'])}, {one_line(record['algorithm'])})")
    return result
