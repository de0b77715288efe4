"""A report written by a child process (scanner.background): its path, its writer's OSError
or any other failure come back as if it had been written here; where a fork is not safe, it
is written here."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scanner import background

ROOT = Path(__file__).resolve().parents[2]

# Run as its own process: a pytest worker has other threads, so it never forks.
SCRIPT = """
import errno, json, os, sys, time
from pathlib import Path
from scanner.background import BackgroundError, Handoff, Pending, forkable

folder = Path(sys.argv[1])
parent = os.getpid()

def written():
    path = folder / "report.xlsx"
    path.write_text(str(os.getpid()))
    return path

def full_disk():
    raise OSError(errno.ENOSPC, "No space left on device")

def broken():
    raise ValueError("a defect in the writer")

answers = {"forkable": forkable()}
path = Pending(written).result()
answers["written_by_a_child"] = int(path.read_text()) != parent
try:
    Pending(full_disk).result()
except OSError as exc:
    answers["os_error"] = [exc.errno, exc.strerror]
try:
    Pending(broken).result()
except BackgroundError as exc:
    answers["failure"] = str(exc)

# Forked before its input is known: the child waits for the line the parent gives.
def waits(first, second):
    path = folder / "given.txt"
    time.sleep(0.5)  # busy writing: the parent gives meanwhile, and does not wait for it
    path.write_text(first.take().decode() + " " + str(len(second.take())) + " "
                    + str(os.getpid()))
    return path

first, second = Handoff(), Handoff()
job = Pending(lambda: waits(first, second), first, second)
answers["child_waiting"] = not (folder / "given.txt").exists()
started = time.monotonic()
first.give(b"abc123")
second.give(b"x" * 20_000_000)  # far more than a pipe holds
answers["gave_at_once"] = time.monotonic() - started < 0.4
given, size, pid = job.result().read_text().split()
answers["given"] = [given, int(size), int(pid) != parent]
# A parent that gives nothing (it failed): the child stops, unwritten.
handoff = Handoff()
job = Pending(lambda: (folder / "never.txt").write_bytes(handoff.take()) and folder, handoff)
handoff.close()
try:
    job.result()
except BackgroundError as exc:
    answers["abandoned"] = "Abandoned" in str(exc)
# Cancelled while waiting: stopped, and reaped.
handoff = Handoff()
job = Pending(lambda: (folder / "never.txt").write_bytes(handoff.take()) and folder, handoff)
job.cancel()
answers["cancelled"] = not (folder / "never.txt").exists()
print(json.dumps(answers))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the child process is Linux's only")
def test_a_child_writes_and_its_answer_comes_back(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, check=True, timeout=60)
    answers = json.loads(done.stdout)
    assert answers["forkable"] is True
    assert answers["written_by_a_child"] is True
    assert answers["os_error"] == [errno.ENOSPC, "No space left on device"]
    assert "ValueError: a defect in the writer" in answers["failure"]
    assert answers["child_waiting"] is True
    assert answers["given"] == ["abc123", 20_000_000, True]
    assert answers["gave_at_once"] is True
    assert answers["abandoned"] is True
    assert answers["cancelled"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["given.txt", "report.xlsx"]


def test_with_other_threads_it_is_written_here_when_asked_for(tmp_path):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not background.forkable()
        calls: list[int] = []

        def write() -> Path:
            calls.append(os.getpid())
            return tmp_path / "report.xlsx"

        pending = background.Pending(write)
        assert calls == []  # nothing yet: the other reports are written first
        assert pending.result() == tmp_path / "report.xlsx"
        assert calls == [os.getpid()]
    finally:
        stop.set()
        other.join()


def test_a_handoff_without_a_child_gives_here():
    handoff = background.Handoff()
    with pytest.raises(background.Abandoned):
        handoff.take()  # nothing given yet
    handoff.give(b"sha")
    handoff.give(b"another")  # once
    assert handoff.take() == b"sha"


def test_cancelled_before_it_runs_here_it_never_writes(tmp_path):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        pending = background.Pending(lambda: tmp_path / "never")
        pending.cancel()
        with pytest.raises(background.Abandoned):
            pending.result()
    finally:
        stop.set()
        other.join()
