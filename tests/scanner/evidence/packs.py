"""A small evidence pack on disk, made without AWS: scan.json of a built document and its
manifest, as a run writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.document.derive import derive
from reports.json_report import write_json
from scanner.evidence.manifest import build_manifest, write_manifest
from tests.builders import covered, make_document, region_scan

TOOL = {"name": "aa-scan", "version": "9.9.9"}


def pack_document() -> dict[str, Any]:
    return make_document([covered("us-east-1"), region_scan("sa-east-1", analyzers=[])])


def make_pack(directory: Path, document: dict[str, Any] | None = None) -> Path:
    """`directory` (created) holding scan.json and manifest.json."""
    directory.mkdir(parents=True)
    document = derive(document or pack_document())
    written = [write_json(document, directory)]
    manifest = build_manifest(
        document, directory, written, tool=TOOL, configuration=document["configuration"]
    )
    write_manifest(manifest, directory)
    return directory
