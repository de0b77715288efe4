"""What the reports say of the evidence pack they belong to: the pack's file names, where
its evidence came from (Source, as manifest.json records it), and the integrity box of
report.html and the workbook's Summary sheet: which run this is, the SHA-256 of scan.json
beside the report, the manifest that hashes every file, and whether the pack is signed and
by which key. The same rows in both, so they cannot disagree. (scanner.evidence writes the
pack; the reports only describe it.)

The reports are written before manifest.json and its signature, so the box says what the
run will write beside them (the signing key was checked able to sign before the scan); `aa-
scan verify` is how a reader checks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.json.sig"

SourceKind = Literal["live", "re-render", "demo"]


class RenderInput(TypedDict):
    """The scan.json a re-render read."""

    sha256: str
    run_id: str | None
    bytes: int
    # The SHA-256 of the manifest.json beside it, when that is its run's pack and names this
    # very scan.json (None: no such pack beside it: not a scan.json that run's pack holds).
    pack_manifest_sha256: NotRequired[str | None]


class RenderRun(TypedDict):
    """The re-render itself: its own id (its role sessions' SourceIdentity, its upload key)
    and when it ran."""

    id: str
    at: str


class Source(TypedDict):
    kind: SourceKind
    # AWS_ENDPOINT_URL* variables in effect for the run: where its AWS calls went.
    endpoint_overrides: dict[str, str]
    input: NotRequired[RenderInput]  # re-render only
    render: NotRequired[RenderRun]  # re-render only
    demo: NotRequired[str]  # the demo's variant




@dataclass(frozen=True)
class Integrity:
    run_id: str
    scan_json_sha256: str | None  # None: no scan.json written with these reports
    source: Source
    signing_key_arn: str | None = None  # None: the pack is not signed

    @property
    def has_scan_json(self) -> bool:
        return self.scan_json_sha256 is not None

    def source_text(self) -> str:
        source = self.source
        if source["kind"] == "re-render":
            given = source.get("input")
            sha = given["sha256"] if given else "unknown"
            run = (given["run_id"] if given else None) or "unknown"
            return (
                f"a re-render (--from-json) of a scan.json with SHA-256 {sha} (run {run}"
                + ("; the scan.json its run's own pack names" if given and
                   given.get("pack_manifest_sha256") else
                   "; not found in a pack of that run" if given and
                   "pack_manifest_sha256" in given else "") + "), "
                "not a live scan"
            )
        if source["kind"] == "demo":
            return "a demo scan of the simulated organization, not of AWS"
        overrides = source["endpoint_overrides"]
        if overrides:
            return "a live scan, its AWS calls sent to " + ", ".join(
                f"{name}={url}" for name, url in overrides.items()
            )
        return "a live scan of AWS"

    def rows(self) -> list[tuple[str, str]]:
        """(item, value) pairs, in order."""
        scan_json = (
            self.scan_json_sha256
            if self.scan_json_sha256 is not None
            else "no scan.json was written with this report (--format without json): the "
            "workbook and this report are the record"
        )
        if self.signing_key_arn:
            signed = (
                f"yes: {SIGNATURE_NAME}, a signature by KMS key {self.signing_key_arn} of "
                f"{MANIFEST_NAME}'s SHA-256 with the run id, the key and the time"
            )
            # Never the key this report names: whoever forged the report wrote that too.
            check = (
                "aa-scan verify <this folder> --key-arn <ARN> (or --public-key <PEM>), with "
                "the key you expect, obtained apart from this report"
            )
        else:
            signed = (
                "no: the hashes show the files match manifest.json, not who wrote it "
                "(sign with --sign-kms-key)"
            )
            check = "aa-scan verify <this folder> --hashes-only"
        return [
            ("Run id", self.run_id),
            ("Source", self.source_text()),
            ("scan.json SHA-256", scan_json),
            (
                "Manifest",
                f"{MANIFEST_NAME}, beside this report: the SHA-256 of every file of the run",
            ),
            ("Signed", signed),
            ("Check it", check),
        ]
