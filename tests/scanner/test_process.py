"""The scanner as a process: signals stop it cleanly; concurrent runs share the log safely."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from scanner.cli import main

ROOT = Path(__file__).resolve().parents[2]


def served(path: Path, scenario: dict[str, Any]) -> Iterator[dict[str, str]]:
    """`scenario` served by `python -m simulator serve` in its own process (for a fixture to
    yield from): the environment that points aa-scan at it; the process stops after."""
    path.write_text(yaml.safe_dump(scenario))
    server = subprocess.Popen([sys.executable, "-m", "simulator", "serve", str(path)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    environment = {}
    assert server.stdout is not None
    for line in server.stdout:
        match = re.match(r"export (\w+)=(.*)", line.strip())
        if match:
            environment[match.group(1)] = match.group(2).strip("'")
        if line.startswith("# call statistics"):
            break
    yield environment
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def slow_world(tmp_path_factory):
    """A world served by another process: slow regions with many pages."""
    folder = tmp_path_factory.mktemp("world")
    scenario = {
        "name": "slow",
        "page_size_cap": 5,
        "organization": {"management_account": {"id": "111111111111"},
                         "accounts": [{"id": "222222222222"}],
                         "delegated_administrator": "222222222222"},
        "regions": {"universe": ["us-east-1", "eu-west-1"]},
        "conditions": {"default": {"latency_ms": 150}},
        "analyzers": [{"type": "ORGANIZATION", "regions": ["us-east-1", "eu-west-1"],
                       "findings": [{"generate": {"count": 400}}]}],
    }
    yield from served(folder / "slow.yaml", scenario)


def sim_stats(world_env: dict[str, str], method: str = "GET") -> dict:
    request = urllib.request.Request(f"{world_env['AWS_ENDPOINT_URL']}/_sim/stats", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for_pages(world_env: dict[str, str], pages: int, timeout: float = 30) -> None:
    """Poll the world's call statistics until ListFindings was called `pages` times: with two
    workers at most two calls are in flight, so three calls mean a page was answered."""
    deadline = time.monotonic() + timeout
    while sim_stats(world_env)["operations"].get("access-analyzer:ListFindings", 0) < pages:
        assert time.monotonic() < deadline, "no findings were read"
        time.sleep(0.05)


def scanner_env(world_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(world_env)
    env["AWS_CONFIG_FILE"] = "/nonexistent/config"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/credentials"
    return env


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_workers_keeps_what_was_collected_and_leaves_no_partial_files(
        slow_world, tmp_path, capsys, signum, code):
    out = tmp_path / "out"
    kms = boto3.client("kms", region_name="us-east-1",
                       endpoint_url=slow_world["AWS_ENDPOINT_URL"],
                       aws_access_key_id=slow_world["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=slow_world["AWS_SECRET_ACCESS_KEY"],
                       aws_session_token=slow_world["AWS_SESSION_TOKEN"])
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    sim_stats(slow_world, "DELETE")  # another test's scan may have been counted
    process = subprocess.Popen(
        [sys.executable, "run_scan.py", "--output-dir", str(out), "--log-file", "",
         "--workers", "2", "--sign-kms-key", key],
        cwd=ROOT, env=scanner_env(slow_world), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    assert process.stderr is not None
    # Wait until findings are being read, then interrupt.
    for line in process.stderr:
        if "scanning 2 region(s)" in line:
            break
    wait_for_pages(slow_world, 3)
    process.send_signal(signum)
    started = time.monotonic()
    _stdout, stderr = process.communicate(timeout=30)
    assert time.monotonic() - started < 15
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    document = json.loads((out / "scan.json").read_text())
    assert document["summary"]["interrupted"] is True
    assert document["summary"]["verdict"] == "INCOMPLETE"
    assert document["summary"]["complete"] is False
    assert not list(out.glob("*.partial")) and not list(out.glob(".*.partial"))
    # What was collected, and the manifest that says it is incomplete and hashes it.
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "scan.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["completeness"]["complete"] is False
    assert "the scan was interrupted" in manifest["completeness"]["reasons"]
    assert [a["path"] for a in manifest["artifacts"]] == ["scan.json"]
    assert any(not r["complete"] for r in document["regions"])
    # Not signed, and the manifest says so: intact and not authenticated, never tampered.
    assert manifest["signing"] is None
    assert main(["verify", str(out)]) == 3, capsys.readouterr()


def test_two_concurrent_processes_share_and_rotate_one_log_intact(tmp_path):
    log = tmp_path / "shared.log"
    script = (
        "import logging, sys\n"
        "from scanner.logs import setup_logging, add_file_log\n"
        "setup_logging(False)\n"
        f"add_file_log(__import__('pathlib').Path({str(log)!r}), 4096, 50)\n"
        "logger = logging.getLogger('aa_scan')\n"
        "for i in range(400):\n"
        "    logger.info('writer=%s line=%04d ' + 'x' * 40 + ' end', sys.argv[1], i)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", script, name], env=env,
                                stderr=subprocess.DEVNULL) for name in ("a", "b")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    files = sorted(tmp_path.glob("shared.log*"))
    assert len(files) > 2  # it rotated
    lines = [line for f in files for line in f.read_text().splitlines()]
    pattern = re.compile(r"^\S+ \d+ INFO writer=(a|b) line=(\d{4}) x{40} end$")
    seen = set()
    for line in lines:
        match = pattern.match(line)
        assert match, f"damaged log line: {line!r}"
        seen.add((match.group(1), match.group(2)))
    assert len(seen) == len(lines) == 800


def test_two_scheduled_runs_at_once_write_separate_folders(slow_world, tmp_path):
    env = scanner_env(slow_world)
    runs = [subprocess.Popen([sys.executable, str(ROOT / "run_scan.py"), "--coverage-only",
                              "--format", "json", "--log-file", str(tmp_path / "aa.log")],
                             cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for _ in range(2)]
    assert [r.wait(timeout=120) for r in runs] == [0, 0]
    folders = sorted(p for p in (tmp_path / "output").iterdir() if p.is_dir())
    assert len(folders) == 2
    for folder in folders:
        assert json.loads((folder / "scan.json").read_text())["summary"]["coverage_only"]


def test_a_scan_as_a_process_writes_its_workbook_in_a_child_process(slow_world, tmp_path):
    """The scan's workers are gone by then: the workbook is written by a child process
    (scanner.background) while scan.json and report.html are written here, and it is whole
    (coverage only: the findings' rows are tests/reports/test_excel_bulk.py's)."""
    from openpyxl import load_workbook

    out = tmp_path / "run"
    done = subprocess.run([sys.executable, str(ROOT / "run_scan.py"), "--output-dir", str(out),
                           "--coverage-only", "--no-history", "--log-file", "", "--debug"],
                          cwd=tmp_path, env=scanner_env(slow_world), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "written in this process" not in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "report.html",
                                                      "report.xlsx", "scan.json"]
    regions = [r["region"] for r in json.loads((out / "scan.json").read_text())["regions"]]
    book = load_workbook(out / "report.xlsx", read_only=True)
    ws = book["Regions"]
    assert [row[0] for row in ws.iter_rows(min_row=2, values_only=True)] == regions
    # Forked before scan.json was written, it states the SHA-256 of the file written since,
    # on its first sheet (written last).
    assert book.sheetnames[0] == "Summary"
    stated = {row[1]: row[2] for row in book["Summary"].iter_rows(values_only=True)}
    assert stated["scan.json SHA-256"] == hashlib.sha256(
        (out / "scan.json").read_bytes()).hexdigest()
