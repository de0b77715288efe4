"""The audit trail end to end: runs against simulated organizations that change between them."""

from __future__ import annotations

import json
import sqlite3

import pytest

from scanner.history import store as history_store

from .conftest import env_world, scenario

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def explicit(n: int, region_tag: str, public: int = 0, first: int = 0):
    """Findings with fixed ids, so the same finding is the same in every world."""
    return [{"id": f"00000000-0000-4000-8000-{region_tag}{i:09d}",
             "resource": f"arn:aws:s3:::{region_tag}-bucket-{i}",
             "resource_type": "AWS::S3::Bucket", "public": i < public,
             "principal": {"AWS": "*" if i < public else "arn:aws:iam::999999999999:root"},
             "action": ["s3:GetObject"], "created_at": "2026-10-01T00:00:00Z"}
            for i in range(first, first + n)]


def world(covered_regions, findings_by_region):
    return [{"type": "ORGANIZATION", "name": "org", "region": region,
             "findings": findings_by_region.get(region, [])} for region in covered_regions]


WEEK_1 = world(["us-east-1", "eu-west-1"], {"us-east-1": explicit(5, "100"),
                                             "eu-west-1": explicit(3, "200")})
# A week later: eu-west-1 lost its analyzer (a new gap), ap-southeast-2 got one (a gap
# closed), us-east-1 has a new public bucket and two of its findings were resolved.
WEEK_2 = world(["us-east-1", "ap-southeast-2"], {
    "us-east-1": [*explicit(3, "100"), *explicit(1, "300", public=1)]})


def test_a_scheduled_run_sees_what_changed_and_fails_only_on_regressions(monkeypatch,
                                                                          run_scan):
    with env_world(monkeypatch, analyzers=WEEK_1):
        first = run_scan("--fail-on", "new-gaps")
        again = run_scan("--fail-on", "new-gaps")
    # No baseline yet: every gap counts as new (a gate never passes on what it cannot
    # prove old); the same organization a moment later has no regression.
    assert first.code == 1 and first.document["changes"]["baseline"] is None
    assert "First recorded run" in first.out
    assert again.code == 0, again.err
    assert again.document["changes"]["baseline"]["run_id"] == first.document["run_id"]
    assert set(again.document["changes"]["counts"].values()) == {0}
    with env_world(monkeypatch, analyzers=WEEK_2):
        later = run_scan("--fail-on", "new-gaps", formats="json,html,xlsx")
    changes = later.document["changes"]
    assert later.code == 1
    assert changes["baseline"]["run_id"] == again.document["run_id"]
    assert [(g["region"], g["code"]) for g in changes["gaps_opened"]] == [
        ("eu-west-1", "NO_ANALYZER")]
    assert [(g["region"], g["code"]) for g in changes["gaps_closed"]] == [
        ("ap-southeast-2", "NO_ANALYZER")]
    assert [(f["resource"], f["is_public"]) for f in changes["findings_new"]] == [
        ("arn:aws:s3:::300-bucket-0", True)]
    assert sorted(f["resource"] for f in changes["findings_closed"]) == [
        "arn:aws:s3:::100-bucket-3", "arn:aws:s3:::100-bucket-4"]
    assert {r["region"]: (r["before"], r["after"]) for r in changes["regions"]} == {
        "eu-west-1": ("COVERED", "GAP"), "ap-southeast-2": ("GAP", "COVERED")}
    # ap-southeast-2 had no analyzer a week ago, eu-west-1 has none now: their findings are
    # neither new nor closed, and the report says why.
    assert {u["region"]: u["reason"] for u in changes["unknown"]} == {
        "ap-southeast-2": "no analyzer to read findings from in the baseline",
        "eu-west-1": "no analyzer to read findings from in this run"}
    assert ("Since " in later.out and "+1 gap, -1 gap, 2 regions changed status, "
            "+1 finding (1 public), 2 closed" in later.out)
    assert [p["covered"] for p in later.document["trend"]] == [2, 2, 2]
    html = (later.directory / "report.html").read_text()
    assert "arn:aws:s3:::300-bucket-0" in html and "Trend over 3 recorded runs" in html
    with env_world(monkeypatch, analyzers=WEEK_2):
        public = run_scan("--fail-on", "new-public")
        steady = run_scan("--fail-on", "new-gaps")
    assert public.code == 0 and steady.code == 0  # nothing new since the run before
    assert public.document["changes"]["counts"]["findings_new_public"] == 0


def test_a_new_public_finding_fails_new_public_but_not_new_gaps(monkeypatch, run_scan):
    everywhere = world(REGIONS, {"us-east-1": explicit(2, "100")})
    with env_world(monkeypatch, analyzers=everywhere):
        assert run_scan().code == 0
    exposed = world(REGIONS, {"us-east-1": [*explicit(2, "100"), *explicit(1, "300", 1)]})
    with env_world(monkeypatch, analyzers=exposed):
        gaps = run_scan("--fail-on", "new-gaps", "--no-history")
        public = run_scan("--fail-on", "new-public")
    assert gaps.code == 0 and public.code == 1
    assert public.document["changes"]["counts"]["findings_new_public"] == 1


def test_a_baseline_of_another_organization_is_refused_and_the_scan_kept(monkeypatch,
                                                                         run_scan, tmp_path):
    with env_world(monkeypatch, analyzers=world(REGIONS, {})):
        theirs = run_scan("--no-history")
    other = dict(scenario()["organization"], id="o-otherorg000")
    with env_world(monkeypatch, organization=other, analyzers=world(REGIONS, {})):
        ours = run_scan("--baseline", str(theirs.directory / "scan.json"))
    assert ours.code == 2
    errors = [line for line in ours.err.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "Traceback" not in ours.err
    assert theirs.document["organization"]["id"] in errors[0]
    assert "o-otherorg000" in errors[0]
    assert ours.document["summary"]["verdict"] == "COMPLIANT"  # the scan itself was kept
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({**theirs.document, "schema_version": 99}))
    refused = run_scan("--baseline", str(newer))  # refused before anything is scanned
    assert refused.code == 2 and refused.document == {} and "newer" in refused.err


@pytest.fixture(scope="class")
def class_world():
    """One world, two covered findings in us-east-1, for the tests of a class: each reads it
    with a history of its own."""
    with pytest.MonkeyPatch.context() as patch, env_world(
            patch, analyzers=world(REGIONS, {"us-east-1": explicit(2, "100")})) as running:
        yield running


class TestHistoryFiles:
    """What the history file holds or refuses; the world is the same for each test."""

    @pytest.mark.parametrize("damage", ["corrupt", "locked", "unwritable"])
    def test_a_broken_history_is_a_warning_never_a_lost_scan(self, class_world, monkeypatch,
                                                              run_scan, tmp_path, damage):
        history = tmp_path / "history.sqlite"
        holder = None
        if damage == "corrupt":
            history.write_bytes(b"not a database " * 1000)
        elif damage == "locked":
            monkeypatch.setattr(history_store, "BUSY_TIMEOUT_MS", 300)
            history_store.HistoryStore(history).close()
            holder = sqlite3.connect(history, isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
        else:
            history.mkdir()  # a folder where the database should be
        run = run_scan("--history", str(history), formats="json,html")
        if holder is not None:
            holder.close()
        assert run.code == 0, run.err
        assert (run.directory / "report.html").exists()
        warnings = [line for line in run.err.splitlines() if line.startswith("WARNING")]
        assert any("history" in line for line in warnings), run.err
        assert all(len(line) < 400 for line in warnings)
        assert run.document["summary"]["active_findings"] == 2

    def test_a_run_whose_reports_were_not_all_written_is_not_recorded(
            self, class_world, monkeypatch, run_scan, tmp_path):
        """The record is written while the workbook is, and committed only once every report
        and the manifest are: a full disk under the workbook leaves the history as it was."""
        from reports.excel import workbook

        history = tmp_path / "history.sqlite"
        kept = run_scan("--history", str(history), formats="json,html,xlsx")

        def full_disk(*_args, **_kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(workbook, "write_atomic", full_disk)
        failed = run_scan("--history", str(history), formats="json,html,xlsx")
        assert kept.code == 0 and failed.code == 2
        assert "No space left on device" in failed.err
        with history_store.HistoryStore(history) as store:
            recorded = store.runs(kept.document["organization"]["id"],
                                  kept.document["identity"]["account_id"])
        assert [r.run_id for r in recorded] == [kept.document["run_id"]]

    def test_earlier_scans_are_imported_once_and_old_runs_pruned(self, class_world, run_scan,
                                                                  tmp_path):
        history = tmp_path / "h.sqlite"
        config = tmp_path / "keep.yaml"
        config.write_text(f"history: {{path: {history}, keep: 2}}\n")
        earlier = run_scan("--no-history")
        runs = [run_scan("--config", str(config)) for _ in range(3)]
        scan_json = str(earlier.directory / "scan.json")
        imported = run_scan("--from-json", scan_json, "--history", str(history))
        twice = run_scan("--from-json", scan_json, "--history", str(history))
        assert imported.code == 0 and twice.code == 0
        with history_store.HistoryStore(history) as store:
            recorded = store.runs(earlier.document["organization"]["id"],
                                  earlier.document["identity"]["account_id"])
        # keep: 2 pruned the first of the three runs; the import is recorded once (an older
        # run than the two kept, until the next prune).
        assert sorted(r.run_id for r in recorded) == sorted(
            [earlier.document["run_id"], runs[1].document["run_id"], runs[2].document["run_id"]])
        assert {r.source for r in recorded if r.run_id == earlier.document["run_id"]} == {"import"}


def test_notify_sns_publishes_only_when_asked_and_only_when_something_changed(monkeypatch,
                                                                           run_scan):
    def subscribe(world):
        sns, sqs = world.client("sns"), world.client("sqs")
        topic = sns.create_topic(Name="aa-scan-changes")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

        def received():
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
                "Messages", [])
            return [json.loads(m["Body"]) for m in messages]

        return topic, received

    with env_world(monkeypatch, analyzers=WEEK_1) as first_world:
        topic, received = subscribe(first_world)
        first = run_scan("--notify-sns", topic)  # the first run: nothing changed yet
        assert first.code == 1 and received() == []
    with env_world(monkeypatch, analyzers=WEEK_2) as changed_world:
        topic, received = subscribe(changed_world)
        quiet = run_scan()  # something changed, but nobody asked for a notification
        assert received() == []
        assert "sns:Publish" not in changed_world.stats.snapshot()["operations"]
    with env_world(monkeypatch, analyzers=WEEK_1) as back:
        topic, received = subscribe(back)
        told = run_scan("--notify-sns", topic)
        messages = received()
    assert quiet.code == 1 and told.code == 1
    assert len(messages) == 1
    assert messages[0]["Subject"].startswith("aa-scan: NON_COMPLIANT for o-")
    body = messages[0]["Message"]
    assert "Since " in body and "+1 gap, -1 gap" in body and "scan.json" in body
