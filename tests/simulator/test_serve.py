"""`python -m simulator serve`: a world in another process, reached from the printed exports."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]


def read_exports(process: subprocess.Popen[str], timeout: float = 60) -> dict[str, str]:
    """The `export K=V` lines printed before the statistics hint (the last line printed)."""
    exports: dict[str, str] = {}
    done = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("export "):
                key, _, value = line[len("export "):].strip().partition("=")
                exports[key] = shlex.split(value)[0] if value else ""
            if line.startswith("# call statistics"):
                break
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not done.wait(timeout):
        process.kill()
        pytest.fail(f"the simulator printed no environment in {timeout} s: {lines!r}")
    return exports


@pytest.fixture
def served() -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", "simulator/scenarios/demo.yaml",
         "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_serve_prints_a_usable_environment_and_stops_on_sigterm(served: Any) -> None:
    exports = read_exports(served)
    assert set(exports) >= {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                            "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"}
    endpoint = exports["AWS_ENDPOINT_URL"]
    assert endpoint.startswith("http://127.0.0.1:")
    assert exports["AWS_ENDPOINT_URL_ACCESSANALYZER"] == endpoint
    assert exports["AWS_DEFAULT_REGION"] == "us-east-1"

    # A client built from the printed values only (nothing from this process's environment).
    session = boto3.session.Session(
        aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=exports["AWS_SESSION_TOKEN"],
        region_name=exports["AWS_DEFAULT_REGION"],
    )
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                    read_timeout=30)
    sts = session.client("sts", endpoint_url=endpoint, config=config)
    identity = sts.get_caller_identity()
    assert identity["Account"] == "222222222222"
    assert identity["Arn"].endswith(":assumed-role/AuditRole/aa-scan")
    aa = session.client("accessanalyzer", endpoint_url=exports["AWS_ENDPOINT_URL_ACCESSANALYZER"],
                        config=config)
    analyzers = {a["name"]: a["type"] for a in aa.list_analyzers()["analyzers"]}
    assert analyzers == {"org-external-access": "ORGANIZATION",
                         "org-unused-access": "ORGANIZATION_UNUSED_ACCESS",
                         "org-internal-access": "ORGANIZATION_INTERNAL_ACCESS"}

    served.send_signal(signal.SIGTERM)
    assert served.wait(timeout=30) == 0


def test_serve_reports_a_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nanalysers: []\n")
    result = subprocess.run([sys.executable, "-m", "simulator", "serve", str(bad)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "simulator: bad.yaml: analysers: unknown key (did you mean 'analyzers'?)")
