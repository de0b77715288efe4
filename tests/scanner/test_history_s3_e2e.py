"""--history s3://BUCKET/KEY against the simulated organization's S3 (moto honours If-Match and
If-None-Match on PutObject): read at the start, written back with a conditional write, and
two runs racing both kept."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import scanner.aws
from scanner.history_s3 import ATTEMPTS

from .conftest import env_world

BUCKET = "aa-scan-history"
KEY = "audit/history.sqlite"
URI = f"s3://{BUCKET}/{KEY}"
ROOT = Path(__file__).resolve().parents[2]
ANALYZERS = [{"type": "ORGANIZATION", "name": "org", "regions": "enabled",
              "findings": [{"generate": {"count": 5}}]}]


def recorded_runs(world: Any, tmp_path: Path) -> list[str]:
    """The run ids the history in S3 holds, in the order they were recorded."""
    copy = tmp_path / "downloaded.sqlite"
    copy.write_bytes(world.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read())
    with sqlite3.connect(copy) as database:
        return [row[0] for row in database.execute("SELECT run_id FROM runs ORDER BY seq")]


def recording_puts(monkeypatch: pytest.MonkeyPatch,
                   before_put: Any = None) -> list[dict[str, Any]]:
    """Every PutObject aa-scan sends (its parameters); `before_put()` runs before each."""
    made = scanner.aws.s3_client
    sent: list[dict[str, Any]] = []

    def client(*args: Any, **kwargs: Any) -> Any:
        made_client = made(*args, **kwargs)

        def put(params: dict[str, Any], **_: Any) -> None:
            sent.append(dict(params))
            if before_put is not None:
                before_put()

        made_client.meta.events.register("provide-client-params.s3.PutObject", put)
        return made_client

    monkeypatch.setattr(scanner.aws, "s3_client", client)
    return sent


def test_the_first_run_creates_the_history_and_the_next_is_compared_with_it(
        monkeypatch, run_scan, tmp_path):
    sent = recording_puts(monkeypatch)
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        world.client("s3").create_bucket(Bucket=BUCKET)
        first = run_scan("--history", URI)
        second = run_scan("--history", URI)
        head = world.client("s3").head_object(Bucket=BUCKET, Key=KEY)
        runs = recorded_runs(world, tmp_path)
    assert (first.code, second.code) == (0, 0), second.err
    assert runs == [first.document["run_id"], second.document["run_id"]]
    assert first.document["changes"]["baseline"] is None
    assert second.document["changes"]["baseline"]["run_id"] == first.document["run_id"]
    assert second.document["configuration"]["history"] == URI
    # The first write only if nothing is there; the next only over what it read.
    assert [("IfNoneMatch" in p, "IfMatch" in p) for p in sent] == [(True, False),
                                                                      (False, True)]
    assert all(p["ExpectedBucketOwner"] == "222222222222" and
               p["ServerSideEncryption"] == "AES256" and p["ChecksumSHA256"] for p in sent)
    assert head["ServerSideEncryption"] == "AES256"
    # Never a local folder named "s3:" (what --history s3://... did before).
    assert not (tmp_path / "s3:").exists() and not Path("s3:").exists()


def test_two_runs_racing_are_both_recorded(monkeypatch, run_scan, tmp_path):
    """Run A reads the history, then run B (another process) records and writes it before A
    writes: A's write is refused (412), A reads the history again, records itself into it
    and writes it: both runs are in the history, B's first."""
    other: list[subprocess.CompletedProcess[str]] = []

    def other_run_writes_first() -> None:
        if not other:
            other.append(subprocess.run(
                [sys.executable, str(ROOT / "run_scan.py"), "--history", URI, "--format",
                 "json", "--output-dir", str(tmp_path / "other"), "--log-file", ""],
                cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False))

    sent = recording_puts(monkeypatch, other_run_writes_first)
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        world.client("s3").create_bucket(Bucket=BUCKET)
        run = run_scan("--history", URI)
        runs = recorded_runs(world, tmp_path)
    assert other[0].returncode == 0, other[0].stderr
    assert run.code == 0, run.err
    other_id = (tmp_path / "other" / "scan.json").read_text().split('"run_id": "')[1][:29]
    assert runs == [other_id, run.document["run_id"]]
    assert "was written by another run since it was read (PreconditionFailed)" in run.err
    # The retry is conditional on what it read again: B's object.
    assert ["IfNoneMatch" in p for p in sent] == [True, False]
    # A compared with what the history held when it started: B, recorded meanwhile, is
    # not its baseline.
    assert run.document["changes"]["baseline"] is None


def test_a_history_written_before_every_attempt_exits_2_after_the_reports(
        monkeypatch, run_scan, tmp_path):
    world_box: list[Any] = []

    def someone_writes_first() -> None:
        # A valid history, changed each time: another run recorded meanwhile.
        s3 = world_box[0].client("s3")
        copy = tmp_path / "theirs.sqlite"
        copy.write_bytes(s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read())
        with sqlite3.connect(copy) as database:
            database.execute("PRAGMA journal_mode = DELETE")
            database.execute(f"CREATE TABLE IF NOT EXISTS other_{len(sent)} (x)")
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=copy.read_bytes())

    sent = recording_puts(monkeypatch)
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        world_box.append(world)
        world.client("s3").create_bucket(Bucket=BUCKET)
        assert run_scan("--history", URI).code == 0
        sent.clear()
        recording_puts(monkeypatch, someone_writes_first)
        run = run_scan("--history", URI, formats="json,junit")
    assert run.code == 2
    errors = [line for line in run.err.splitlines() if line.startswith("ERROR")]
    assert errors == [f"ERROR --history {URI}: the run was not recorded: another run wrote "
                      f"the history before each of {ATTEMPTS} attempts"]
    assert {p.name for p in run.directory.iterdir()} == {"scan.json", "junit.xml",
                                                          "manifest.json"}


def test_a_history_that_cannot_be_read_stops_the_run_before_the_scan(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        run = run_scan("--history", "s3://aa-scan-missing/history.sqlite")
        calls = world.stats.snapshot()["operations"]
    assert run.code == 2
    assert "--history s3://aa-scan-missing/history.sqlite: cannot read it (bucket owner " \
           "222222222222): NoSuchBucket" in run.err
    assert not run.document and "access-analyzer:ListAnalyzers" not in calls


@pytest.mark.parametrize("value", ["s3://Bad_Bucket/x", "s3://aa-scan-history/", "s3:/x"])
def test_a_mistyped_s3_location_is_refused_never_a_folder(monkeypatch, run_scan, tmp_path,
                                                         value):
    with env_world(monkeypatch, analyzers=ANALYZERS):
        run = run_scan("--history", value)
    assert run.code == 2 and "is not an S3 object location" in run.err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("s3")]


def test_an_import_is_recorded_in_the_history_in_s3(monkeypatch, run_scan, tmp_path):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        world.client("s3").create_bucket(Bucket=BUCKET)
        scan = run_scan("--no-history")
        imported = run_scan("--from-json", str(scan.directory / "scan.json"), "--history", URI)
        runs = recorded_runs(world, tmp_path)
    assert imported.code == 0, imported.err
    assert runs == [scan.document["run_id"]]


def test_the_history_in_s3_calls_only_what_its_optional_statement_grants(monkeypatch,
                                                                         run_scan):
    from .test_read_only import OPTIONAL, policy_actions

    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        world.client("s3").create_bucket(Bucket=BUCKET)
        world.stats.reset()
        assert run_scan("--history", URI).code == 0
        assert run_scan("--history", URI).code == 0
        called = set(world.stats.snapshot()["operations"])
    extra = {{"s3:HeadObject": "s3:GetObject"}.get(op, op) for op in called} - policy_actions()
    assert extra == {"s3:GetObject", "s3:PutObject"}
    assert extra <= OPTIONAL["--history s3://"][1]
