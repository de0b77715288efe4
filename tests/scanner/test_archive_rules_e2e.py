"""Archive rules judged, end to end: a broad and a narrow rule side by side on the same
analyzers of the simulated organization; only the broad one is an advisory, and every rule is
in the inventory with its class and the archived findings of its analyzer."""

from __future__ import annotations

from .conftest import env_world

PARTNER = "arn:aws:iam::999988887777:root"
BROAD = {"name": "everything-public", "filter": {"isPublic": {"eq": ["true"]}}}
NARROW = {"name": "trusted-partner", "filter": {"principal.AWS": {"eq": [PARTNER]}}}
ALL_BUCKETS = {"name": "all-buckets", "filter": {"resourceType": {"eq": ["AWS::S3::Bucket"]}}}


def test_only_the_broad_rule_is_flagged_and_every_rule_is_classified(monkeypatch, run_scan):
    analyzers = [
        {"type": "ORGANIZATION", "name": "org", "regions": ["us-east-1", "eu-west-1"],
         "archive_rules": [BROAD, NARROW],
         "findings": [{"generate": {"count": 12, "statuses": {"ACTIVE": 1, "ARCHIVED": 2}}}]},
        {"type": "ORGANIZATION", "name": "org", "region": "ap-southeast-2",
         "archive_rules": [ALL_BUCKETS]},
    ]
    with env_world(monkeypatch, analyzers=analyzers):
        run = run_scan(formats="json,html")
    assert run.code == 0, run.err  # advisories never change the verdict
    flagged = [a for a in run.document["advisories"] if a["code"] == "BROAD_ARCHIVE_RULE"]
    assert [a["title"] for a in flagged] == [
        "Archive rule everything-public of analyzer org can archive public findings (in 2 "
        "regions: eu-west-1, us-east-1)",
        "Archive rule all-buckets of analyzer org can archive public findings (in "
        "ap-southeast-2)"]
    both, one = flagged
    assert (both["scope"], both["region"]) == ("organization", None)
    assert (one["scope"], one["region"]) == ("region", "ap-southeast-2")
    assert "Its filter: isPublic is true." in both["detail"]
    archived = run.region("us-east-1")["archived"]
    assert archived and f"us-east-1: {archived:,}" in both["detail"]
    assert both["remediation"] == ("aws accessanalyzer get-archive-rule --analyzer-name org "
                                   "--rule-name everything-public --region eu-west-1")
    assert "delete-archive-rule --analyzer-name org --rule-name everything-public" in (
        both["remediation_note"])
    assert "each of eu-west-1, us-east-1" in both["remediation_note"]
    assert not any("trusted-partner" in a["title"] for a in run.document["advisories"])

    inventory = {(r["region"], r["name"]): r for r in run.document["derived"]["archive_rules"]}
    assert {k: r["classification"] for k, r in inventory.items()} == {
        ("us-east-1", "everything-public"): "broad", ("us-east-1", "trusted-partner"): "narrow",
        ("eu-west-1", "everything-public"): "broad", ("eu-west-1", "trusted-partner"): "narrow",
        ("ap-southeast-2", "all-buckets"): "broad"}
    entry = inventory[("us-east-1", "trusted-partner")]
    assert (entry["archived"], entry["active"]) == (
        archived, sum(c["active"] for c in run.region("us-east-1")["findings"].values()))
    assert inventory[("ap-southeast-2", "all-buckets")]["active"] == 0

    page = (run.directory / "report.html").read_text()
    rules = page[page.index('id="archive-rules"'):page.index('id="matrix"')]
    assert rules.index("everything-public") < rules.index("trusted-partner")  # flagged first
    assert rules.count("Can archive public findings") == 2 and "Narrow" in rules
