"""Fixtures for end-to-end scans: a simulated world, pointed at by the environment."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reports.document.schema import validate
from scanner.cli import main
from simulator import World, load_scenario

ORG = {
    "management_account": {"id": "111111111111", "name": "management"},
    "accounts": [
        {"id": "222222222222", "name": "security"},
        {"id": "333333333333", "name": "workloads"},
    ],
    "trusted_access": True,
    "delegated_administrator": "222222222222",
}
REGIONS = {"universe": ["us-east-1", "eu-west-1", "ap-southeast-2", "af-south-1"]}


def scenario(**overrides: Any) -> dict[str, Any]:
    """A small organization: DA scanning, 3 enabled regions + af-south-1 not enabled."""
    base: dict[str, Any] = {"name": "test", "organization": json.loads(json.dumps(ORG)),
                            "regions": dict(REGIONS)}
    base.update(overrides)
    return base


@contextmanager
def world_env(document: Mapping[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    world = World(load_scenario(document)).start()
    try:
        with monkeypatch.context() as patch:
            for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION"):
                patch.delenv(key, raising=False)
            patch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
            for key, value in world.environment().items():
                patch.setenv(key, value)
            yield world
    finally:
        world.stop()


class Run:
    def __init__(self, code: int, out: str, err: str, directory: Path) -> None:
        self.code = code
        self.out = out
        self.err = err
        self.directory = directory
        path = directory / "scan.json"
        self.document: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        if self.document:
            validate(self.document)

    def region(self, name: str) -> dict[str, Any]:
        return next(r for r in self.document["regions"] if r["region"] == name)


@pytest.fixture
def run_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run `aa-scan` in-process with args; scan.json goes to a fresh folder, JSON only."""
    monkeypatch.chdir(tmp_path)  # no config/regions.yaml here: the defaults apply
    counter = iter(range(1, 1000))

    def run(*args: str, formats: str = "json") -> Run:
        directory = tmp_path / f"out{next(counter)}"
        argv = [*args, "--output-dir", str(directory), "--log-file", ""]
        if formats and "--format" not in args:
            argv += ["--format", formats]
        code = main(argv)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err, directory)

    return run


def env_world(monkeypatch: pytest.MonkeyPatch, **overrides: Any):
    return world_env(scenario(**overrides), monkeypatch)


__all__ = ["ORG", "REGIONS", "Run", "env_world", "os", "scenario", "world_env"]
