"""manifest.json: the fields the issue lists, hashes anyone can recompute, atomic writing,
and manifests that cannot be trusted to name files refused."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from reports.document.derive import derive
from reports.document.scope import scope
from scanner.evidence import manifest as manifest_module
from scanner.evidence.manifest import (
    MANIFEST_NAME,
    ManifestError,
    build_manifest,
    read_manifest,
    write_manifest,
)
from tests.builders import covered, make_document, organization, region_scan

TOOL = {"name": "aa-scan", "version": "9.9.9"}
FIELDS = ["manifest_version", "tool", "schema_version", "run_id", "started_at", "finished_at",
          "identity", "organization", "scope", "completeness", "configuration",
          "configuration_sha256", "environment", "artifacts", "controls", "run_folder",
          "source", "command_line", "run_by", "baseline", "signing"]


def folder(tmp_path: Path) -> tuple[dict, list[Path]]:
    document = make_document([
        covered("us-east-1"), region_scan("sa-east-1", analyzers=[]),
        region_scan("af-south-1", enabled=False, opt_in_status="NOT_OPTED_IN"),
        region_scan("us-west-1", excluded="decommissioned"),
        region_scan("me-central-1", excluded="never used", opt_in_status="DISABLED"),
    ])
    document["api_calls"] = {"ListFindings": 3, "ListAnalyzers": 2}
    document = derive(document)  # as the run does, before the reports and the manifest
    files = []
    for name, content in (("scan.json", b'{"a": 1}\n'), ("report.html", b"<html>\x00\xff")):
        (tmp_path / name).write_bytes(content)
        files.append(tmp_path / name)
    return document, files


def test_the_manifest_holds_exactly_the_fields_the_issue_lists(tmp_path):
    document, files = folder(tmp_path)
    configuration = {**document["configuration"], "sign_kms_key": None, "regions": "all"}
    manifest = build_manifest(document, tmp_path, files, tool=TOOL,
                              configuration=configuration)
    path = write_manifest(manifest, tmp_path)
    written = json.loads(path.read_text())
    assert list(written) == FIELDS
    assert written["manifest_version"] == 2 and written["tool"] == TOOL
    assert written["run_id"] == document["run_id"]
    assert written["identity"] == document["identity"]
    assert written["organization"] == {
        "id": "o-abcdef1234", "management_account_id": "111111111111",
        "scanning_account_role": "DELEGATED_ADMINISTRATOR"}
    assert written["scope"] == {
        "accounts": 3, "regions_enabled": ["sa-east-1", "us-east-1", "us-west-1"],
        "regions_scanned": ["sa-east-1", "us-east-1"], "regions_not_enabled": ["af-south-1"],
        "regions_excluded": {"me-central-1": "never used", "us-west-1": "decommissioned"},
        "coverage_types": ["ORGANIZATION"], "finding_statuses": [],
        # the region counts of every report, under the keys of their labels
        "region_counts": {"listed": 5, "enabled": 3, "scanned": 2, "assessed": 2,
                          "covered": 1, "gaps": 1, "not_assessed": 0, "excluded": 2,
                          "not_enabled": 1}}
    assert written["completeness"] == {"complete": True, "reasons": [],
                                       "api_calls": {"ListAnalyzers": 2, "ListFindings": 3}}
    assert written["configuration"] == configuration
    # Recomputable by anyone: the canonical JSON the README describes.
    canonical = json.dumps(configuration, sort_keys=True, separators=(",", ":"))
    assert written["configuration_sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert set(written["environment"]) == {"python", "boto3", "botocore"}
    assert written["artifacts"] == [
        {"path": p.name, "bytes": len(p.read_bytes()),
         "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
        for p in sorted(files, key=lambda p: p.name)]
    assert written["controls"] == document["summary"]["controls"]


def test_an_unknown_account_list_is_said_not_counted():
    document = make_document(org=organization(accounts=None))
    document["organization"]["accounts"] = None
    assert scope(document)["accounts"] is None


def test_the_manifest_is_written_atomically(tmp_path, monkeypatch):
    document, files = folder(tmp_path)
    manifest = build_manifest(document, tmp_path, files, tool=TOOL, configuration={})
    write_manifest(manifest, tmp_path)
    before = (tmp_path / MANIFEST_NAME).read_bytes()

    def crash(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(manifest_module.os, "replace", crash)
    changed = {**manifest, "run_id": "another"}
    with pytest.raises(manifest_module.EvidenceError, match="No space left on device"):
        write_manifest(changed, tmp_path)
    # The previous manifest is whole and nothing half-written is left beside it.
    assert (tmp_path / MANIFEST_NAME).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_NAME, "report.html",
                                                          "scan.json"]


def test_a_file_outside_the_run_folder_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    document, _ = folder(run)
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("x")
    with pytest.raises(manifest_module.EvidenceError, match="not inside the run folder"):
        build_manifest(document, run, [outside], tool=TOOL, configuration={})


@pytest.mark.parametrize("content, message", [
    ("{", "not valid JSON"),
    ("[]", "not a manifest"),
    ('{"artifacts": []}', "no manifest_version"),
    ('{"manifest_version": 3, "artifacts": []}', "newer than this aa-scan understands"),
    ('{"manifest_version": 1, "artifacts": {}}', "artifacts is not a list"),
    ('{"manifest_version": 1, "artifacts": [{"path": "a"}]}', "not a path, bytes and sha256"),
    ('{"manifest_version": 1, "artifacts": [{"path": "../../etc/passwd", "bytes": 1, '
     '"sha256": "' + "0" * 64 + '"}]}', "not a file of the run folder"),
    ('{"manifest_version": 1, "artifacts": [{"path": "/etc/passwd", "bytes": 1, '
     '"sha256": "' + "0" * 64 + '"}]}', "not a file of the run folder"),
    ('{"manifest_version": 1, "artifacts": [{"path": "manifest.json", "bytes": 1, '
     '"sha256": "' + "0" * 64 + '"}]}', "not a file of the run folder"),
])
def test_a_manifest_that_cannot_be_trusted_is_refused(tmp_path, content, message):
    (tmp_path / MANIFEST_NAME).write_text(content)
    with pytest.raises(ManifestError, match=message):
        read_manifest(tmp_path)


def test_a_folder_without_a_manifest_is_refused(tmp_path):
    with pytest.raises(ManifestError, match="no such folder"):
        read_manifest(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ManifestError, match="not a folder"):
        read_manifest(tmp_path / "file")
    with pytest.raises(ManifestError, match="no manifest in this folder"):
        read_manifest(tmp_path)


def test_manifest_files_are_readable_by_their_owner_only(tmp_path):
    document, files = folder(tmp_path)
    path = write_manifest(build_manifest(document, tmp_path, files, tool=TOOL,
                                         configuration={}), tmp_path)
    assert os.stat(path).st_mode & 0o077 == 0
