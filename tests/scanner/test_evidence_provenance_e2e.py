"""Where a pack's evidence came from (issue 20 §3), end to end against the simulated world:
the manifest's source, command line, who ran it, the tool's commit and the baseline; a
re-render that is refused when its scan.json contradicts itself and says it is a re-render
when it is not; the integrity box of report.html and the workbook."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from scanner.cli import main

from .conftest import env_world
from .test_evidence_e2e import simulated

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
# Two of the three enabled regions without an analyzer: two gaps.
ONE_ANALYZER = [
    {
        "type": "ORGANIZATION",
        "name": "org",
        "regions": ["us-east-1"],
        "findings": [{"generate": {"count": 5}}],
    }
]
ALL = "json,html,xlsx"


@pytest.fixture(scope="module")
def world() -> Iterator[Any]:
    """One world for the module (two of three regions without an analyzer), in the
    environment until its last test; each test counts its calls from zero."""
    with pytest.MonkeyPatch.context() as patch, env_world(patch, analyzers=ONE_ANALYZER) as made:
        yield made


def manifest_of(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "manifest.json").read_text())


def signing_key(world: Any) -> str:
    key = world.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    return str(key["KeyMetadata"]["Arn"])


def verify(
    capsys: pytest.CaptureFixture[str], directory: Path, *args: str
) -> tuple[int, list[str]]:
    code = main(["verify", str(directory), *args, *simulated(directory)])
    return code, capsys.readouterr().out.splitlines()


def test_the_manifest_records_the_source_command_line_and_who_ran_it(world, monkeypatch, run_scan):
    for name in ("GITLAB_CI", "CODEBUILD_BUILD_ID", "JENKINS_URL", "BUILDKITE", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/audits")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_not-to-be-recorded")
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_ECS_FARGATE")
    run = run_scan("--external-id", "the-external-id-secret", "--workers", "4")
    endpoint = world.environment()["AWS_ENDPOINT_URL"]
    assert run.code == 1, run.err
    manifest = manifest_of(run.directory)
    text = (run.directory / "manifest.json").read_text()
    assert manifest["source"] == {
        "kind": "live",
        "endpoint_overrides": manifest["source"]["endpoint_overrides"],
    }
    assert manifest["source"]["endpoint_overrides"]["AWS_ENDPOINT_URL"] == endpoint
    assert manifest["command_line"] == [
        "aa-scan",
        "--external-id",
        "[REDACTED]",
        "--workers",
        "4",
        "--output-dir",
        str(run.directory),
        "--log-file",
        "",
        "--format",
        "json",
    ]
    assert "the-external-id-secret" not in text and "ghs_not" not in text
    by = manifest["run_by"]
    assert by["user"] and by["host"]
    assert by["ci"] == {
        "system": "github-actions",
        "variables": {"GITHUB_REPOSITORY": "acme/audits", "GITHUB_RUN_ID": "4242"},
    }
    assert by["aws_environment"] == {"AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"}
    # Run from this checkout: its commit.
    assert len(manifest["tool"]["commit"]) == 40
    assert isinstance(manifest["tool"]["checkout_modified"], bool)
    assert manifest["run_folder"] == run.directory.name


@pytest.mark.parametrize(
    "abbreviated", ["--external-id=secret-value-1", "--external=secret-value-1"]
)
def test_an_external_id_is_redacted_however_it_is_written(abbreviated):
    from scanner.cli import redacted_command_line

    shown = redacted_command_line(["--demo", abbreviated, "--ext", "secret-value-2"])
    assert "secret-value" not in " ".join(shown)
    assert shown[-2:] == ("--ext", "[REDACTED]")


def test_a_re_render_of_an_edited_scan_json_is_refused(world, run_scan, tmp_path):
    """Issue 20 §3: gaps removed and the verdict set to COMPLIANT, the regions still GAP:
    re-rendered and signed, it said Verdict: COMPLIANT and exited 0."""
    run = run_scan()
    assert run.code == 1
    edited = json.loads((run.directory / "scan.json").read_text())
    assert edited["summary"]["gaps"] == 2
    edited["gaps"] = [g for g in edited["gaps"] if g["scope"] != "region"]
    edited["summary"]["verdict"] = "COMPLIANT"
    source = tmp_path / "edited.json"
    source.write_text(json.dumps(edited))
    render = run_scan("--from-json", str(source), "--sign-kms-key", signing_key(world), formats=ALL)
    assert render.code == 2
    errors = [line for line in render.err.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, render.err
    assert errors[0].startswith(
        f"ERROR --from-json {source}: its summary, verdict or gaps "
        "disagree with its regions: region "
    )
    assert "Verdict: COMPLIANT" not in render.out and not render.directory.exists()


class TestAReRender:
    """A consistent re-render, signed: the manifest and verify say what it is."""

    def test_a_signed_re_render_is_never_taken_for_a_live_scan(self, world, run_scan, capsys):
        key = signing_key(world)
        run = run_scan("--sign-kms-key", key)
        source = run.directory / "scan.json"
        render = run_scan("--from-json", str(source), "--sign-kms-key", key, formats=ALL)
        live = verify(capsys, run.directory, "--key-arn", key)
        rendered = verify(capsys, render.directory, "--key-arn", key)
        assert render.code == 1, render.err
        manifest = manifest_of(render.directory)
        data = source.read_bytes()
        assert manifest["source"] == {
            "kind": "re-render",
            "endpoint_overrides": {},
            "input": {
                "sha256": hashlib.sha256(data).hexdigest(),
                "run_id": run.document["run_id"],
                "bytes": len(data),
                # The run's own scan.json: anchored to the pack beside it, as a baseline is.
                "pack_manifest_sha256": hashlib.sha256(
                    (run.directory / "manifest.json").read_bytes()).hexdigest(),
            },
            # The re-render's own id (its role sessions' SourceIdentity, its upload place).
            "render": manifest["source"]["render"],
        }
        assert set(manifest["source"]["render"]) == {"id", "at"}
        assert manifest["source"]["render"]["id"] != run.document["run_id"]
        assert manifest["run_id"] == run.document["run_id"]
        assert live[0] == 0, live
        assert rendered[0] == 3, rendered
        assert (
            f"a re-render (--from-json) of a scan.json with SHA-256 "
            f"{hashlib.sha256(data).hexdigest()[:16]}… (run {run.document['run_id']}; the "
            f"scan.json run {run.document['run_id']}'s own pack names" in rendered[1][0]
        )
        assert rendered[1][1].startswith(
            f"NOT AUTHENTICATED: proved: the 3 artifact(s) match "
            f"manifest.json; manifest.json is signed by {key}"
        )
        assert rendered[1][1].endswith(
            "Not proved: that a live scan wrote these reports: they "
            "are a re-render (--from-json) of a scan.json with "
            f"SHA-256 {hashlib.sha256(data).hexdigest()[:16]}… (run "
            f"{run.document['run_id']}; the scan.json run {run.document['run_id']}'s own pack "
            f"names (that pack's manifest.json: SHA-256 "
            f"{hashlib.sha256((run.directory / 'manifest.json').read_bytes()).hexdigest()[:16]}"
            "…)); verify that run's own pack"
        )


def test_the_manifest_anchors_the_baseline_to_its_pack(world, monkeypatch, tmp_path, capsys):
    """Runs in the default folders (output/<run id>): the second names the first as its
    baseline, with the SHA-256 of the first one's manifest; with --baseline FILE, the
    manifest beside that file."""
    monkeypatch.chdir(tmp_path)
    assert main(["--log-file", "", "--format", "json"]) == 1
    assert main(["--log-file", "", "--format", "json"]) == 1
    # Named by run id: within one second, the order of the names is the random part's.
    first, second = sorted(
        (p for p in (tmp_path / "output").iterdir() if p.is_dir()),
        key=lambda p: manifest_of(p)["baseline"] is not None,
    )
    assert (
        main(
            [
                "--log-file",
                "",
                "--format",
                "json",
                "--no-history",
                "--baseline",
                str(first / "scan.json"),
                "--output-dir",
                str(tmp_path / "third"),
            ]
        )
        == 1
    )
    capsys.readouterr()
    manifest = manifest_of(second)
    first_manifest = (first / "manifest.json").read_bytes()
    assert manifest["baseline"] == {
        "run_id": first.name,
        "started_at": manifest_of(first)["started_at"],
        "source": "history",
        "manifest_sha256": hashlib.sha256(first_manifest).hexdigest(),
    }
    third = manifest_of(tmp_path / "third")
    assert third["baseline"]["source"] == "file"
    assert third["baseline"]["manifest_sha256"] == hashlib.sha256(first_manifest).hexdigest()
    # A first run, compared with nothing.
    assert manifest_of(first)["baseline"] is None


@pytest.mark.parametrize("formats", [ALL, "html,xlsx"])
def test_the_reports_carry_the_integrity_box(world, run_scan, formats):
    key = signing_key(world)
    run = run_scan("--sign-kms-key", key, formats=formats)
    assert run.code == 1, run.err
    run_id = manifest_of(run.directory)["run_id"]
    page = (run.directory / "report.html").read_text()
    box = page[
        page.index('id="integrity"') : page.index("</section>", page.index('id="integrity"'))
    ]
    book = load_workbook(run.directory / "report.xlsx", read_only=True)
    rows = {
        row[1]: row[2]
        for row in book["Summary"].iter_rows(values_only=True)
        if row[0] == "Integrity"
    }
    assert rows["Run id"] == run_id and run_id in box
    assert rows["Signed"].startswith(f"yes: manifest.json.sig, a signature by KMS key {key}")
    assert f"KMS key {key}" in box
    # The command to check it pins the key the reader expects, never the one named here.
    assert key not in rows["Check it"] and "with the key you expect" in rows["Check it"]
    assert rows["Manifest"].startswith("manifest.json, beside this report")
    if formats == ALL:
        sha = hashlib.sha256((run.directory / "scan.json").read_bytes()).hexdigest()
        assert rows["scan.json SHA-256"] == sha and sha in box
        assert "scan.json is the complete machine-readable record" in page
    else:
        assert not (run.directory / "scan.json").exists()
        assert rows["scan.json SHA-256"].startswith("no scan.json was written with this report")
        assert "scan.json is the complete machine-readable record" not in page
        assert "(and scan.json)" not in page
