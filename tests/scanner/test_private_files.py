"""Local files are private (issue 20 §6): what a run creates (its folder, the reports, the
history and its journal, the log and its rotation lock) is readable by its owner only,
whatever the umask it was started with; and --output-dir refuses a folder that holds another
run's files, or is a symbolic link, rather than mixing two runs in one pack."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import main

from .conftest import env_world

ANALYZERS = [
    {"type": "ORGANIZATION", "name": "org", "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"]}
]


@pytest.fixture(scope="module")
def world() -> Iterator[Any]:
    """One world for the module, in the environment until its last test."""
    with pytest.MonkeyPatch.context() as patch, env_world(patch, analyzers=ANALYZERS) as made:
        yield made


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that leaves new files readable by everyone (a common default)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_run_creates_only_private_files(world, monkeypatch, tmp_path, capsys, open_umask):
    monkeypatch.chdir(tmp_path)
    code = main(["--regions", "us-east-1"])  # the defaults: output/, its log, history
    capsys.readouterr()
    assert code == 0
    output = tmp_path / "output"
    (run,) = [p for p in output.iterdir() if p.is_dir()]
    assert mode(output) == 0o700 and mode(run) == 0o700
    for path in run.iterdir():
        assert mode(path) == 0o600, path.name
    log = output / "aa-scan.log"
    locks = list(output.glob(".__aa-scan*"))
    assert locks and all(mode(p) == 0o600 for p in [log, *locks])
    history = output / "history.sqlite"
    assert mode(history) == 0o600
    # SQLite gives the write-ahead log and its index the database file's mode.
    with sqlite3.connect(history) as db:
        db.execute("SELECT count(*) FROM runs").fetchone()
        journal = [output / "history.sqlite-wal", output / "history.sqlite-shm"]
        assert all(p.exists() and mode(p) == 0o600 for p in journal)
    # The process's own umask is left as it was.
    assert os.umask(0o022) == 0o022


def test_an_output_dir_holding_another_runs_files_is_refused(world, tmp_path, capsys):
    out = tmp_path / "out"
    first = main(["--output-dir", str(out), "--log-file", "", "--no-history"])
    before = sorted(p.name for p in out.iterdir())
    second = main(["--output-dir", str(out), "--log-file", "", "--no-history"])
    err = capsys.readouterr().err
    assert (first, second) == (0, 2)
    errors = [line for line in err.splitlines() if line.startswith("ERROR")]
    assert errors == [
        f"ERROR --output-dir {out} already holds files (manifest.json, "
        "report.html, report.xlsx and 1 more): a run folder holds one run's "
        "files, so give a new or empty folder"
    ]
    # The first run's pack is as it was, and still verifies.
    assert sorted(p.name for p in out.iterdir()) == before
    assert main(["verify", str(out), "--hashes-only"]) == 0


def test_an_output_dir_that_is_a_symbolic_link_is_refused(world, tmp_path, capsys):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "out"
    link.symlink_to(target)
    world.stats.reset()
    code = main(["--output-dir", str(link), "--log-file", "", "--no-history"])
    called = world.stats.snapshot()["operations"]
    err = capsys.readouterr().err
    assert code == 2
    assert [line for line in err.splitlines() if line.startswith("ERROR")] == [
        f"ERROR --output-dir {link} is a symbolic link (to {target}): give the folder itself"
    ]
    assert list(target.iterdir()) == [] and not called


def test_an_empty_output_dir_is_used(world, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert main(["--output-dir", str(out), "--log-file", "", "--no-history"]) == 0
    capsys.readouterr()
    assert (out / "manifest.json").exists()
