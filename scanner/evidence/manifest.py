"""manifest.json: what a run folder holds and what it is evidence of, written last.

It names every file the run wrote with its size and SHA-256, and says what was examined
(the scope), how (the API operations and their call counts, the effective configuration and
its hash), by whom (the identity), when, with what (tool and library versions), whether the
result is complete, and which controls it is evidence for. `aa-scan verify` re-hashes a
folder against it; `--sign-kms-key` signs it.

It is written atomically (a temporary file renamed into place), after every other file of
the run, so a folder with a manifest is a finished one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from reports.document.derive import derived_of
from reports.document.pack import MANIFEST_NAME, SIGNATURE_NAME, Source
from reports.document.rules import one_line
from reports.document.schema import Completeness, ControlRef, ScanDocument, Scope, Tool
from reports.document.scope import configuration_sha256
from reports.files import write_bytes_atomic

from .files import MANIFEST_LIMIT, FileProblem, load_json, open_folder, read_regular
from .provenance import BaselineRecord, RunBy, live_source, run_by

MANIFEST_VERSION = 2
# Neither is an artifact: the manifest cannot hash itself, and the signature signs it.
PACK_FILES = frozenset({MANIFEST_NAME, SIGNATURE_NAME})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


class EvidenceError(Exception):
    """A pack that cannot be written, read, signed or uploaded; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class ManifestError(EvidenceError):
    """A folder or manifest.json that cannot be read (missing, corrupt, of a newer version)."""


class Artifact(TypedDict):
    """A file of the run folder: its path, size and SHA-256."""

    path: str  # relative to the run folder, with forward slashes
    bytes: int
    sha256: str


class ManifestIdentity(TypedDict):
    """Who scanned."""

    account_id: str
    arn: str


class ManifestOrganization(TypedDict):
    """The organization scanned, and the scanning account's role."""

    id: str | None
    management_account_id: str | None
    scanning_account_role: str


class Environment(TypedDict):
    """The interpreter and AWS libraries that wrote the pack."""

    python: str
    boto3: str
    botocore: str


class ManifestSigning(TypedDict):
    """The KMS key the pack is signed with (manifest.json.sig), as KMS named it before the
    scan; the signature's statement must name the same key."""

    key_arn: str
    key_spec: str
    algorithm: str
    public_key_sha256: str  # SHA-256 of the public key's DER (SubjectPublicKeyInfo)


class ManifestTool(TypedDict):
    """The aa-scan that wrote the pack, and its checkout when run from one."""

    name: str
    version: str
    # Run from a git checkout: its commit, and whether tracked files differ from it.
    commit: NotRequired[str]
    checkout_modified: NotRequired[bool]


class Provenance(TypedDict):
    """Where the evidence came from and who made it (evidence.provenance)."""

    source: Source
    command_line: list[str]  # credentials and external ids redacted
    run_by: RunBy
    baseline: BaselineRecord | None


class Manifest(TypedDict):
    """manifest.json."""

    manifest_version: int
    tool: ManifestTool
    schema_version: int
    run_id: str | None
    started_at: str
    finished_at: str
    identity: ManifestIdentity
    organization: ManifestOrganization
    scope: Scope
    completeness: Completeness
    configuration: dict[str, Any]
    configuration_sha256: str
    environment: Environment
    artifacts: list[Artifact]
    controls: list[ControlRef]
    # Since manifest_version 2 (issue 20): the folder's name when it was written, and the
    # key that signs the pack (null: not signed).
    run_folder: NotRequired[str]
    source: NotRequired[Source]
    command_line: NotRequired[list[str]]
    run_by: NotRequired[RunBy]
    baseline: NotRequired[BaselineRecord | None]
    signing: NotRequired[ManifestSigning | None]


def file_digest(path: Path) -> tuple[int, str]:
    """(size in bytes, SHA-256 in hex) of a file, read in chunks (scan.json can be large)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> Environment:
    """The interpreter and AWS libraries of the process writing the pack."""
    return {"python": platform.python_version(), "boto3": _version("boto3"),
            "botocore": _version("botocore")}


def relative_name(directory: Path, path: Path) -> str:
    """A file's name inside the run folder, as the manifest records it."""
    try:
        relative = path.resolve().relative_to(directory.resolve())
    except ValueError:
        raise EvidenceError(f"{path} is not inside the run folder {directory}") from None
    return relative.as_posix()


def artifacts(directory: Path, files: Iterable[Path]) -> list[Artifact]:
    """Size and SHA-256 of each file the run wrote, in name order."""
    entries: dict[str, Artifact] = {}
    for path in files:
        name = relative_name(directory, path)
        if name in PACK_FILES:
            continue
        try:
            size, sha = file_digest(path)
        except OSError as exc:
            raise EvidenceError(f"cannot read {path} to hash it: "
                                f"{exc.strerror or exc}") from None
        entries[name] = {"path": name, "bytes": size, "sha256": sha}
    return [entries[name] for name in sorted(entries)]


def build_manifest(document: ScanDocument, directory: Path, files: Iterable[Path], *,
                   tool: Tool | ManifestTool, configuration: Mapping[str, Any],
                   env: Environment | None = None,
                   provenance: Provenance | None = None,
                   signing: ManifestSigning | None = None) -> Manifest:
    """The manifest of a run folder, from the derived document (reports.document.derive:
    its scope, completeness and controls are read, not recomputed): `files` are those the
    run wrote into `directory`;
    `configuration` is the effective configuration (the document's, with this run's
    evidence settings); `tool` is the aa-scan writing the pack; `provenance`, where the
    evidence came from (a live scan when not given); `signing`, the key that will sign it."""
    org = document["organization"]
    if provenance is None:
        provenance = {"source": live_source(), "command_line": [], "run_by": run_by(),
                      "baseline": None}
    identity = document["identity"]
    derived = derived_of(document)
    effective = dict(configuration)
    return {
        "manifest_version": MANIFEST_VERSION,
        "tool": dict(tool),  # type: ignore[typeddict-item]
        "schema_version": document["schema_version"],
        "run_id": document.get("run_id"),
        "started_at": document["started_at"],
        "finished_at": document["finished_at"],
        "identity": {"account_id": identity["account_id"], "arn": identity["arn"]},
        "organization": {"id": org["id"], "management_account_id": org["management_account_id"],
                         "scanning_account_role": org["scanning_account_role"]},
        "scope": derived["scope"],
        "completeness": derived["completeness"],
        "configuration": effective,
        # Of the configuration recorded here, not the document's: a re-render records its own
        # evidence settings (pack_configuration), so the two differ; scope.canonical_json says
        # how anyone recomputes it.
        "configuration_sha256": configuration_sha256(effective),
        "environment": env if env is not None else environment(),
        "artifacts": artifacts(directory, files),
        "controls": derived["controls"],
        "run_folder": directory.resolve().name,
        "source": provenance["source"],
        "command_line": list(provenance["command_line"]),
        "run_by": provenance["run_by"],
        "baseline": provenance["baseline"],
        "signing": signing,
    }


def manifest_bytes(manifest: Manifest) -> bytes:
    """The file's bytes: indented for people, ASCII only (whatever the names in it)."""
    return (json.dumps(manifest, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def write_manifest(manifest: Manifest, directory: Path) -> Path:
    """Write directory/manifest.json atomically (reports.files), the run's last file."""
    try:
        return write_bytes_atomic(directory / MANIFEST_NAME, manifest_bytes(manifest))
    except OSError as exc:
        raise EvidenceError(f"cannot write {directory / MANIFEST_NAME}: "
                            f"{exc.strerror or exc}") from None


# -- reading one back ---------------------------------------------------------------------------


def safe_path(name: str) -> bool:
    """A name the manifest may hold: relative, inside the folder, in the one spelling aa-scan
    writes (no "." or ".." part, no empty part: "./scan.json" is not a second name for
    scan.json, "." is not a file)."""
    if not name or "\\" in name or "\x00" in name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def unsafe_artifacts(manifest: Manifest) -> list[str]:
    """The names the manifest lists that are not files of the run folder: a path leading out
    of it, the manifest or signature itself, a name listed twice. A manifest aa-scan wrote
    has none; `aa-scan verify` reports each as tampering."""
    seen: set[str] = set()
    unsafe = []
    for entry in manifest["artifacts"]:
        name = entry["path"]
        if not safe_path(name) or name in PACK_FILES or name in seen:
            unsafe.append(name)
        seen.add(name)
    return unsafe


def parse_manifest(data: bytes, where: str) -> Manifest:
    """The manifest in `data`, its shape checked as far as verifying needs; ManifestError
    otherwise. The names it lists are not judged here (see unsafe_artifacts)."""
    try:
        loaded = load_json(data)
    except ValueError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    if not isinstance(loaded, dict):
        raise ManifestError(f"{where}: not a manifest (expected a JSON object)")
    version = loaded.get("manifest_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ManifestError(f"{where}: not a manifest (no manifest_version)")
    if version > MANIFEST_VERSION:
        raise ManifestError(f"{where}: manifest_version {version} is newer than this aa-scan "
                            f"understands ({MANIFEST_VERSION}); upgrade aa-scan to verify it")
    entries = loaded.get("artifacts")
    if not isinstance(entries, list):
        raise ManifestError(f"{where}: artifacts is not a list")
    for index, entry in enumerate(entries):
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                and isinstance(entry.get("bytes"), int) and not isinstance(entry["bytes"], bool)
                and entry["bytes"] >= 0
                and isinstance(entry.get("sha256"), str) and _SHA256.match(entry["sha256"])):
            raise ManifestError(f"{where}: artifacts[{index}] is not a path, bytes and sha256")
    if not isinstance(loaded.get("configuration", {}), dict):
        raise ManifestError(f"{where}: configuration is not an object")
    return cast(Manifest, loaded)


def read_manifest_bytes(directory: Path) -> bytes:
    """The exact bytes of a folder's manifest.json (what a signature covers), read as
    evidence.files reads a hostile folder: FileProblem when it is not a regular file of a
    sensible size (a symbolic link included), ManifestError when the folder is not one."""
    if not directory.exists():
        raise ManifestError(f"{directory}: no such folder")
    if not directory.is_dir():
        raise ManifestError(f"{directory}: not a folder")
    try:
        folder = open_folder(directory)
    except OSError as exc:
        raise ManifestError(f"{directory}: cannot read: {exc.strerror or exc}") from None
    try:
        return read_regular(MANIFEST_NAME, MANIFEST_LIMIT, dir_fd=folder)
    finally:
        os.close(folder)


def manifest_file_error(directory: Path, problem: FileProblem) -> ManifestError:
    """The ManifestError for a manifest.json that could not be read as a regular file."""
    path = directory / MANIFEST_NAME
    if problem.kind == "missing":
        return ManifestError(f"{path}: no manifest in this folder (was it written by an "
                             "aa-scan with evidence packs?)")
    return ManifestError(f"{path}: cannot read: {problem.text}")


def read_manifest(directory: Path) -> tuple[Manifest, bytes]:
    """A folder's manifest and its exact bytes, for the steps that follow a run (signing,
    the upload): anything but a plain manifest naming only files of the folder is
    ManifestError."""
    try:
        data = read_manifest_bytes(directory)
    except FileProblem as problem:
        raise manifest_file_error(directory, problem) from None
    path = directory / MANIFEST_NAME
    manifest = parse_manifest(data, str(path))
    unsafe = unsafe_artifacts(manifest)
    if unsafe:
        raise ManifestError(f"{path}: artifacts name {unsafe[0]!r}, which is not a file of the "
                            "run folder")
    return manifest, data
