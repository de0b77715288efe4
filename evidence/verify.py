"""`aa-scan verify DIR`: is this folder the one aa-scan wrote?

Every artifact the manifest names is re-hashed; a file missing, changed, or present but not
named is one problem line naming the file. When the folder holds manifest.json.sig, the
signature is checked too: offline with the public key it carries (and, if the auditor holds
the expected key, against that), or by kms:Verify with `--online`. A manifest whose own
configuration says it was signed, in a folder without the signature, is a problem as well.

A folder or manifest that cannot be read at all raises ManifestError: that is no answer
about the pack, and the command exits 2 rather than 1.
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

from .manifest import (
    MANIFEST_NAME,
    PACK_FILES,
    SIGNATURE_NAME,
    Manifest,
    file_digest,
    read_manifest,
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
    artifacts: int = 0
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
        return [*self.problems,
                f"TAMPERED {where}: {len(self.problems)} problem(s) against {MANIFEST_NAME} "
                f"({self.artifacts} artifact(s))"]


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


def _check_artifacts(directory: Path, manifest: Manifest, result: Verification) -> None:
    named = {entry["path"] for entry in manifest["artifacts"]}
    result.artifacts = len(named)
    for entry in manifest["artifacts"]:
        name = one_line(entry["path"])
        path = directory / entry["path"]
        if path.is_symlink() or (path.exists() and not path.is_file()):
            result.problems.append(f"CHANGED {name}: no longer a plain file")
            continue
        try:
            size, sha = file_digest(path)
        except FileNotFoundError:
            result.problems.append(f"MISSING {name}: named in {MANIFEST_NAME}, not in the "
                                   "folder")
            continue
        except OSError as exc:
            result.problems.append(f"UNREADABLE {name}: {exc.strerror or exc}")
            continue
        if sha != entry["sha256"] or size != entry["bytes"]:
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
    manifest, data = read_manifest(directory)
    result = Verification(directory)
    _check_artifacts(directory, manifest, result)
    signed_with = manifest.get("configuration", {}).get("sign_kms_key")
    path = directory / SIGNATURE_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError as exc:
        result.problems.append(f"UNREADABLE {SIGNATURE_NAME}: {exc.strerror or exc}")
        return result
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
