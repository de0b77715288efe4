"""Issue 23 reviewed by a skeptical auditor: exceptions that accept more than they name, and
archive rules classified narrow although they archive any new public grant of a whole class
of resources. Each test fails on main at 9eda69c; each docstring says what was observed and
what is expected. Worlds: the simulated organization of tests/scanner/conftest.py."""

from __future__ import annotations

import datetime as dt
import json
import string
from pathlib import Path

from reports.document.archive_rules import assess
from tests.builders import analyzer, covered, exception, finding, make_document, region_scan

from .conftest import env_world

TODAY = dt.datetime.now(dt.UTC).date()
LATER = (TODAY + dt.timedelta(days=90)).isoformat()
PARTNER = "arn:aws:iam::999988887777:root"


def _risk(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("exceptions:\n" + body)
    return str(path)


# -- 1. a finding accepted by id keeps being accepted after it turns public ------------------

def _shared_bucket(public: bool) -> list[dict]:
    finding = {"id": "f-partner-share", "resource": "arn:aws:s3:::acme-partner-share",
               "resource_type": "AWS::S3::Bucket", "owner": "333333333333",
               "action": ["s3:GetObject"]}
    if public:
        finding.update(public=True, principal={"AWS": "*"})
    else:
        finding.update(principal={"AWS": PARTNER})
    return [{"type": "ORGANIZATION", "name": "org", "regions": ["eu-west-1", "ap-southeast-2"]},
            {"type": "ORGANIZATION", "name": "org", "region": "us-east-1",
             "findings": [finding]}]


def test_a_finding_accepted_by_id_that_turns_public_is_not_silently_still_accepted(
        monkeypatch, run_scan, tmp_path):
    """Observed: an exception by `finding_id`, approved for a cross-account share with one
    partner account ("Shared read-only with partner 999988887777"), keeps accepting the same
    finding id after its grant changes to everyone (principal AWS "*", isPublic true). The
    changes block even records it as turned public (findings_turned_public 1), yet
    `findings_new_public_accepted` subtracts it: `--fail-on new-public` exits 0, `--fail-on
    public` exits 0, and the verdict reads "COMPLIANT with 1 accepted exception". The
    organization became publicly exposed and every gate passed.
    Expected: what the risk owner approved was the finding as it was (cross-account); a
    finding whose access widened to public since it was accepted (the baseline's register
    recorded it with is_public false) is not accepted by that exception any more: it counts
    for --fail-on new-public (and is named, e.g. an advisory that the exception's finding
    turned public), at least until the exception is re-approved."""
    risk = _risk(tmp_path, "risk.yaml",
                 "  - finding_id: f-partner-share\n"
                 "    reason: Shared read-only with partner account 999988887777\n"
                 f"    owner: data@example.com\n    expires: {LATER}\n")
    history = str(tmp_path / "history.sqlite")
    with env_world(monkeypatch, analyzers=_shared_bucket(public=False)):
        first = run_scan("--exceptions", risk, "--history", history, "--fail-on", "new-public")
    with env_world(monkeypatch, analyzers=_shared_bucket(public=True)):
        later = run_scan("--exceptions", risk, "--history", history, "--fail-on", "new-public")
    assert first.code == 0, first.err
    changes = later.document["changes"]
    assert changes["counts"]["findings_turned_public"] == 1  # the tool knows it turned public
    assert later.code == 1, (
        "a finding accepted as a cross-account share turned public under the same id and "
        f"--fail-on new-public passed (exit {later.code}); counts: {changes['counts']}")


# -- 2. a gap exception cannot name the analyzer type ----------------------------------------

def _two_types(external_status: str) -> list[dict]:
    regions = ["us-east-1", "ap-southeast-2"]
    analyzers = [
        {"type": "ORGANIZATION", "name": "org", "regions": regions},
        {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal", "regions": regions},
        {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal", "region": "eu-west-1",
         "status": "CREATING"},
        {"type": "ORGANIZATION", "name": "org", "region": "eu-west-1",
         "status": external_status},
    ]
    if external_status == "FAILED":
        analyzers[-1]["status_reason"] = "AWS_SERVICE_ACCESS_DISABLED"
    return analyzers


def test_an_exception_for_one_analyzer_type_does_not_accept_the_same_gap_of_another(
        monkeypatch, run_scan, tmp_path):
    """Observed: with coverage_types [ORGANIZATION, ORGANIZATION_INTERNAL_ACCESS], the risk
    board accepts `NOT_ACTIVE` in eu-west-1 for the internal-access analyzer being rebuilt
    (a MEDIUM gap; it is the only gap the exception matches in the first run). A week later
    the external-access analyzer of eu-west-1 FAILS (a HIGH gap: the region is no longer
    covered for IAM.28 / CIS 1.20). The same exception accepts it, because a gap exception
    matches region and code only (reports/document/exceptions.py matches_gap ignores the
    gap's analyzer_type, which MatchedGap carries): `--fail-on new-gaps` exits 0, `--fail-on
    gaps` exits 0, and the verdict reads "COMPLIANT with 1 accepted exception". The same
    holds for MISSING_REQUIRED_TYPE with region "*": one written for the organization-wide
    unused-access analyzer also accepts every region's missing internal-access analyzer once
    that type is required.
    Expected: an exception accepts the gaps of the analyzer type it was written for (an
    `analyzer_type` key, or the type of what it matched when approved); a gap of another type
    (here the primary, external-access one) counts: new-gaps and gaps exit 1."""
    config = tmp_path / "config.yaml"
    config.write_text("coverage_types: [ORGANIZATION, ORGANIZATION_INTERNAL_ACCESS]\n")
    risk = _risk(tmp_path, "risk.yaml",
                 "  - region: eu-west-1\n    code: NOT_ACTIVE\n"
                 "    reason: Internal-access analyzer being rebuilt (RISK-31)\n"
                 f"    owner: secops@example.com\n    expires: {LATER}\n")
    history = str(tmp_path / "history.sqlite")
    with env_world(monkeypatch, analyzers=_two_types("ACTIVE")):
        first = run_scan("--config", str(config), "--exceptions", risk, "--history", history,
                         "--fail-on", "new-gaps")
    with env_world(monkeypatch, analyzers=_two_types("FAILED")):
        later = run_scan("--config", str(config), "--exceptions", risk, "--history", history,
                         "--fail-on", "new-gaps")
        gaps = run_scan("--config", str(config), "--exceptions", risk, "--no-history",
                        "--fail-on", "gaps")
    # With two types required, an exception that names none accepts nothing (the second
    # review: one run cannot tell which type it was written for), from the first run.
    assert first.code == 1, first.err
    (matched,) = first.document["exceptions"]["entries"][0]["refused"]["gaps"]
    assert matched["analyzer_type"] == "ORGANIZATION_INTERNAL_ACCESS"
    external = next(g for g in later.document["gaps"]
                    if g["analyzer_type"] == "ORGANIZATION")
    assert external["severity"] == "HIGH"
    assert "exception" not in external, (
        "the HIGH external-access gap is accepted by an exception written for the "
        "internal-access analyzer")
    assert later.code == 1 and gaps.code == 1, (later.code, gaps.code, later.out)


# -- 3. the "resource part must name something" guard is one character deep -----------------

def _public_everywhere() -> list[dict]:
    findings = [
        {"resource": "arn:aws:iam::333333333333:role/ci-deploy", "resource_type":
         "AWS::IAM::Role", "owner": "333333333333", "public": True,
         "principal": {"AWS": "*"}, "action": ["sts:AssumeRole"]},
        {"resource": "arn:aws:kms:us-east-1:333333333333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
         "resource_type": "AWS::KMS::Key", "owner": "333333333333", "public": True,
         "principal": {"AWS": "*"}, "action": ["kms:Decrypt"]},
    ]
    return [{"type": "ORGANIZATION", "name": "org",
             "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"], "findings": findings}]


def test_a_resource_pattern_that_names_nothing_but_a_separator_is_refused(monkeypatch,
                                                                          run_scan, tmp_path):
    """Observed: the configuration refuses `arn:aws:s3:::*` ("it would accept the findings of
    every resource of the service", README: "the resource part must name something"), but
    scanner/config.py _arn_pattern_problem only asks that the resource part hold one
    character other than `*`, and `*` matches `:` and `/`. So `arn:*:*:*:*:*/*` (every role,
    KMS key, ECR repository, EFS file system... of every account, region and partition) and
    `arn:aws:iam::*:role/*` (every IAM role of every account, including accounts that join
    later) are accepted; with either, public role trusts and a public KMS key pass
    `--fail-on public` (exit 0).
    Expected: a pattern whose resource part, once its `*` are removed, is only separators
    (`/`, `:`, `-`, `.`) or only a resource-type word (`role/`, `key/`), or one with `*` in
    the service or account field together with such a resource part, is refused like
    `arn:aws:s3:::*`: exit 2, one line naming the file and line."""
    for pattern in ("arn:*:*:*:*:*/*", "arn:aws:iam::*:role/*"):
        risk = _risk(tmp_path, f"wide-{len(pattern)}.yaml",
                     f"  - resource: '{pattern}'\n    reason: Known\n"
                     f"    owner: secops@example.com\n    expires: {LATER}\n")
        with env_world(monkeypatch, analyzers=_public_everywhere()):
            run = run_scan("--exceptions", risk, "--fail-on", "public")
        assert run.code == 2, (
            f"{pattern!r} was accepted (exit {run.code}) and accepted "
            f"{run.document.get('summary', {}).get('accepted')}")
        assert "resource" in run.err and len(run.err.strip().splitlines()) == 1


# -- 4. archive rules: "contains a whole ARN" is a prefix, not a name -------------------------

EVERY_BUCKET = {"name": "every-bucket", "filter": {"resource": {"contains": [
    f"arn:aws:s3:::{c}" for c in string.ascii_lowercase + string.digits]}}}
EVERY_ROLE = {"name": "every-role-in-workloads", "filter": {"resource": {"contains": [
    "arn:aws:iam::333333333333:role/"]}}}
PUBLIC_ROLES = {"name": "public-roles-in-workloads", "filter": {
    "isPublic": {"eq": ["true"]},
    "resource": {"contains": ["arn:aws:iam::333333333333:role"]}}}


def test_an_archive_rule_on_an_arn_prefix_is_not_narrow(monkeypatch, run_scan):
    """Observed: reports/document/archive_rules.py treats `resource contains <a whole ARN>`
    as naming resources (`_named`/`_full_arn`): the rule is "narrow" (no advisory) or, with
    isPublic eq true, only "public_named" (LOW). But Access Analyzer's `contains` is a
    substring test, and a "whole ARN" is a prefix of every longer ARN: `contains
    arn:aws:iam::333333333333:role/` archives the findings of every role of that account,
    present and future, public trusts included; `contains arn:aws:s3:::a` ...
    `arn:aws:s3:::9` archives every bucket of the organization; (`contains
    arn:aws:s3:::acme-logs` also archives a new public bucket acme-logs-public). All three
    rules below are classified narrow or public_named; the first two raise no
    BROAD_ARCHIVE_RULE advisory at all.
    Expected: a `contains` value names a resource only if no other resource's ARN can
    contain it (in practice: never; only `eq` names resources), so each of these rules is
    broad and raises BROAD_ARCHIVE_RULE (MEDIUM)."""
    for rule in (EVERY_BUCKET, EVERY_ROLE, PUBLIC_ROLES):
        assert assess(rule["filter"]).rule_class == "broad", (
            rule["name"], assess(rule["filter"]))
    analyzers = [{"type": "ORGANIZATION", "name": "org",
                  "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"],
                  "archive_rules": [EVERY_BUCKET, EVERY_ROLE, PUBLIC_ROLES]}]
    with env_world(monkeypatch, analyzers=analyzers):
        run = run_scan()
    flagged = {a["title"].split()[2] for a in run.document["advisories"]
               if a["code"] == "BROAD_ARCHIVE_RULE"}
    assert flagged == {"every-bucket", "every-role-in-workloads", "public-roles-in-workloads"}
    assert all(a["severity"] == "MEDIUM" for a in run.document["advisories"]
               if a["code"] == "BROAD_ARCHIVE_RULE")


# -- 5. a re-render applies exceptions the configuration would refuse -------------------------

def test_a_rerender_refuses_exceptions_the_configuration_would_refuse(run_scan, tmp_path):
    """Observed: `--from-json` re-judges the document's own exceptions and refuses a register
    that disagrees with them, but never validates the exceptions themselves. A scan.json
    edited to carry, consistently, `resource: "*"` (every finding of every service),
    `expires: 9999-12-31` (forever) and a blank owner and reason is re-rendered, and signed
    when asked, as "COMPLIANT with 2 accepted exceptions"; `--fail-on public` exits 0 with a
    public bucket. The configuration refuses each of these (no reason/owner, more than 3
    years ahead, a resource part that names nothing, not an ARN). A forger no longer has to
    edit regions, which the re-render checks: one wildcard exception accepts everything.
    Expected: a re-render validates configuration.exceptions by the configuration's rules
    (scanner.config._exceptions: required non-blank reason and owner, an ARN pattern that
    names something, an acceptable code, expiry at most 3 years after the scan's start) and
    refuses the document (exit 2, one line) when one fails."""
    document = make_document(
        [covered("us-east-1", [finding(is_public=True, resource="arn:aws:s3:::acme-site")]),
         region_scan("us-west-2", [analyzer("us-west-2", type="ACCOUNT")])],
        exceptions=[exception(None, "ACCOUNT_SCOPE_ONLY", expires="9999-12-31", owner=" ",
                              reason=" "),
                    exception(resource="*", expires="9999-12-31")])
    path = tmp_path / "forged-scan.json"
    path.write_text(json.dumps(document))
    run = run_scan("--from-json", str(path), "--fail-on", "public")
    assert run.code == 2, (
        f"re-rendered (exit {run.code}) as {run.document['summary']['verdict']} with "
        f"{run.document['summary'].get('accepted')}")
