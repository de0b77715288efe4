"""Issue 22, done when: report.html of a scan with gaps, regions not assessed and the member
view, printed to PDF by headless Chromium, has the verdict, the controls row, every gap's
title and every region not assessed on pages 1-2 (read back page by page with pdftotext).

Needs Debian's chromium and poppler-utils (.ci/run installs them); skipped, saying so, where
chromium is absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .conftest import env_world

CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome")
                 if (found := shutil.which(name))), None)
PDFTOTEXT = shutil.which("pdftotext")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or PDFTOTEXT is None,
    reason="printing report.html needs chromium and pdftotext (apt-get install chromium "
           "poppler-utils; .ci/run installs them)")

ADMIN, MANAGEMENT, WORKLOADS = "222222222222", "111111111111", "333333333333"
UNIVERSE = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1",
            "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1", "ca-central-1",
            "eu-north-1",
            "me-south-1", "af-south-1"]
COVERED = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "ap-southeast-1"]


def _world() -> dict:
    return {
        "regions": {"universe": UNIVERSE},
        "analyzers": [
            {"type": "ORGANIZATION", "name": "acme-org", "regions": COVERED,
             "findings": [{"generate": {"count": 120, "public_share": 0.2}}]},
            {"type": "ORGANIZATION", "name": "acme-org", "region": "eu-west-2",
             "status": "FAILED", "status_reason": "DELEGATED_ADMINISTRATOR_DEREGISTERED"},
            {"type": "ACCOUNT", "name": "legacy", "region": "ap-northeast-1"},
            {"type": "ACCOUNT", "name": "mine", "region": "us-east-1", "account": WORKLOADS}],
        # denied by an SCP: not assessed
        "conditions": {"eu-north-1": {"deny": True}, "ca-central-1": {"deny": True}},
        "roles": [{"name": "MemberAudit", "accounts": [MANAGEMENT, WORKLOADS]}],
    }


def _pages(pdf: Path) -> list[str]:
    text = subprocess.run([PDFTOTEXT, "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True, timeout=120).stdout
    return [re.sub(r"\s+", " ", page) for page in text.split("\f")]


def _print(html: Path, pdf: Path) -> None:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="aa-scan-print-") as profile:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--no-pdf-header-footer",
                        f"--print-to-pdf={pdf}", html.resolve().as_uri()],
                       capture_output=True, check=True, timeout=240)


def test_the_printed_first_two_pages_are_the_answer(monkeypatch, run_scan, tmp_path):
    with env_world(monkeypatch, **_world()):
        run = run_scan("--member-accounts", "all", "--member-role-name", "MemberAudit",
                       formats="json,html")
    document = run.document
    assert run.code == 3  # regions an SCP denies: incomplete
    gaps = [g for g in document["gaps"] if "exception" not in g]
    held = [r["region"] for r in document["regions"] if r["status"] == "ERROR"]
    assert len(gaps) >= 4 and sorted(held) == ["ca-central-1", "eu-north-1"]
    assert document["member_view"]["summary"]["fail"] >= 1

    pdf = tmp_path / "report.pdf"
    _print(run.directory / "report.html", pdf)
    pages = _pages(pdf)
    assert len(pages) > 2  # the rest of the report follows
    first = " ".join(pages[:2])
    assert "VERDICT" in first.upper() and "NON_COMPLIANT" not in first  # said in words
    verdict = re.sub(r"\s+", " ", document["summary"]["verdict"].replace("_", " ").lower())
    assert verdict.split()[0] in first.lower() or "gap" in first.lower()
    # The controls row: every control with its status, and the reading they rest on.
    for name in ("CIS 1.20", "CIS 1.19", "CIS 2.19", "CIS 2.18", "Security Hub IAM.28",
                 "AWS Config rule"):
        assert re.search(re.escape(name) + r".{0,25}(Not met|Met|Not determined)", first), name
    assert "Reading: per account: the member view" in first
    assert "Member view" in first
    # Every gap by its scan.json title, every region not assessed with what fixes it.
    squashed = first.replace(" ", "")
    for gap in gaps:
        assert gap["title"].replace(" ", "") in squashed, gap["title"]
    for region in held:
        assert region in first
    assert "list-policies-for-target" in first.replace(" ", "").replace("-\n", "") or \
        "list-policies-for-target" in squashed
