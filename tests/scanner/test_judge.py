"""The judge, without AWS: verdicts, roles, gaps and the overall verdict."""

from __future__ import annotations

import string
from dataclasses import replace

import pytest

from reports.document.rules import RegionStatus, ScanningRole
from scanner.judge import GAP_TEXT, judge, scanning_role
from scanner.model import ApiError, Identity, OrganizationFacts, RegionAvailability
from tests.builders import (
    ADMIN,
    MANAGEMENT,
    MEMBER,
    analyzer,
    covered,
    finding,
    make_scan_result,
    organization,
    region_scan,
)

DENIED = ApiError("AccessDeniedException", "explicit deny in a service control policy",
                  "access-analyzer:ListAnalyzers")


def verdict_of(scan, **kwargs):
    judgement = judge(make_scan_result([scan], **kwargs))
    return judgement.regions[0], judgement


@pytest.mark.parametrize("analyzers, status, reason", [
    ([analyzer()], RegionStatus.COVERED, None),
    ([], RegionStatus.GAP, "NO_ANALYZER"),
    ([analyzer(type="ACCOUNT")], RegionStatus.GAP, "ACCOUNT_SCOPE_ONLY"),
    ([analyzer(status="FAILED", status_reason="DELEGATED_ADMINISTRATOR_DEREGISTERED")],
     RegionStatus.GAP, "NOT_ACTIVE"),
    ([analyzer(status="CREATING")], RegionStatus.GAP, "NOT_ACTIVE"),
    ([analyzer(type="ORGANIZATION_UNUSED_ACCESS")], RegionStatus.GAP, "NO_ANALYZER"),
    ([analyzer(type="ACCOUNT", status="FAILED")], RegionStatus.GAP, "NO_ANALYZER"),
    ([analyzer(status="FAILED"), analyzer(name="second")], RegionStatus.COVERED, None),
])
def test_region_verdicts(analyzers, status, reason):
    verdict, _ = verdict_of(region_scan("eu-west-1", analyzers))
    assert (verdict.status, verdict.reason) == (status, reason)
    assert verdict.complete is True


def test_not_active_names_status_and_reason_and_picks_specific_remediation():
    scan = region_scan("eu-west-2", [analyzer("eu-west-2", name="org", status="FAILED",
                                              status_reason="SERVICE_LINKED_ROLE_CREATION_FAILED")])
    verdict, _judgement = verdict_of(scan)
    gap = verdict.gaps[0]
    assert "FAILED" in gap.title and "service-linked role" in gap.title
    assert_recreated(gap.remediation, "org", "eu-west-2")
    assert "iam:CreateServiceLinkedRole" in gap.remediation_note
    assert ADMIN in gap.remediation_note


INTERNAL = ("ORGANIZATION", "ORGANIZATION_INTERNAL_ACCESS")  # a regional analysis
UNUSED = ("ORGANIZATION", "ORGANIZATION_UNUSED_ACCESS")  # one analyzer covers every region


def test_missing_required_regional_type_when_the_primary_is_covered():
    scan = region_scan("us-east-1", [analyzer(), analyzer(type="ORGANIZATION_INTERNAL_ACCESS",
                                                          status="FAILED")])
    verdict, _ = verdict_of(scan, coverage_types=INTERNAL)
    assert (verdict.status, verdict.reason) == (RegionStatus.GAP, "NOT_ACTIVE")
    scan = region_scan("us-east-1", [analyzer()])
    verdict, _ = verdict_of(scan, coverage_types=INTERNAL)
    assert (verdict.status, verdict.reason) == (RegionStatus.GAP, "MISSING_REQUIRED_TYPE")
    assert "--type ORGANIZATION_INTERNAL_ACCESS" in verdict.gaps[0].remediation


def test_one_unused_access_analyzer_anywhere_meets_the_requirement():
    """Issue 12: an ORGANIZATION_UNUSED_ACCESS analyzer in eu-central-1 covers every region;
    without one it is one organization gap, never one per region."""
    regions = [region_scan("us-east-1", [analyzer("us-east-1")]),
               region_scan("ap-northeast-1", [analyzer("ap-northeast-1")]),
               region_scan("eu-central-1", [analyzer("eu-central-1"), analyzer(
                   "eu-central-1", type="ORGANIZATION_UNUSED_ACCESS")])]
    judgement = judge(make_scan_result(regions, coverage_types=UNUSED))
    assert [v.status for v in judgement.regions] == [RegionStatus.COVERED] * 3
    assert (judgement.gaps, judgement.verdict.value) == ((), "COMPLIANT")
    without = judge(make_scan_result(regions[:2], coverage_types=UNUSED))
    assert [v.status for v in without.regions] == [RegionStatus.COVERED] * 2
    assert [(g.scope, g.region, g.code) for g in without.gaps] == [
        ("organization", None, "MISSING_REQUIRED_TYPE")]
    assert "in any region" in without.gaps[0].title
    assert without.gaps[0].remediation == (
        "aws accessanalyzer create-analyzer --analyzer-name organization-unused-access "
        "--type ORGANIZATION_UNUSED_ACCESS --region us-east-1")
    failed = judge(make_scan_result([*regions[:2], region_scan("eu-central-1", [
        analyzer("eu-central-1"), analyzer("eu-central-1", type="ORGANIZATION_UNUSED_ACCESS",
                                           name="unused", status="FAILED")])],
        coverage_types=UNUSED))
    assert [(g.scope, g.code) for g in failed.gaps] == [("organization", "NOT_ACTIVE")]
    assert "unused" in failed.gaps[0].title and "eu-central-1" in failed.gaps[0].title


@pytest.mark.parametrize("unread", [
    region_scan("eu-central-1", error=ApiError("AccessDeniedException", "denied by an SCP",
                                               "ListAnalyzers")),
    region_scan("eu-central-1", excluded="not ours"),
])
def test_a_requirement_one_analyzer_anywhere_meets_is_open_while_a_region_was_not_read(unread):
    """Probe: with eu-central-1 denied (or excluded), no unused-access analyzer in the regions
    read is no gap: the one that meets it may be there. Not assessed, and said why."""
    regions = [region_scan("us-east-1", [analyzer("us-east-1")]), unread]
    judgement = judge(make_scan_result(regions, coverage_types=UNUSED))
    assert [g.code for g in judgement.gaps if g.code == "MISSING_REQUIRED_TYPE"] == []
    assert judgement.verdict.value == "INCOMPLETE"
    assert any("eu-central-1" in r and "ORGANIZATION_UNUSED_ACCESS" in r
               for r in judgement.incomplete_reasons), judgement.incomplete_reasons
    # a region that is not enabled cannot hold one: the gap stands
    off = judge(make_scan_result([regions[0], region_scan("eu-central-1", enabled=False)],
                                 coverage_types=UNUSED))
    assert [g.code for g in off.gaps] == ["MISSING_REQUIRED_TYPE"]


def test_an_enabled_region_the_configuration_left_out_may_hold_the_analyzer():
    """`--regions us-east-1` on an organization with eu-central-1 enabled too: the region is
    not in the result, but discovery listed it, and the requirement stays open."""
    result = make_scan_result([region_scan("us-east-1", [analyzer("us-east-1")])],
                              coverage_types=UNUSED)
    result = replace(result, discovery=replace(result.discovery, regions=(
        *result.discovery.regions, RegionAvailability("eu-central-1", True, "ENABLED"))))
    judgement = judge(result)
    assert judgement.gaps == () and judgement.verdict.value == "INCOMPLETE"


def test_denied_region_is_not_assessed_and_explained_as_a_possible_scp():
    verdict, judgement = verdict_of(region_scan("me-south-1", error=DENIED))
    assert verdict.status == RegionStatus.ERROR and verdict.reason == "AccessDeniedException"
    assert verdict.complete is False and verdict.error == DENIED
    assert "service control policy" in verdict.detail
    assert judgement.complete is False and judgement.verdict.value == "INCOMPLETE"
    assert judgement.gaps == ()


def test_invalid_token_is_not_enabled_only_when_enablement_was_unknown():
    invalid = ApiError("UnrecognizedClientException", "The security token included in the "
                       "request is invalid.", "access-analyzer:ListAnalyzers")
    unknown, _ = verdict_of(region_scan("af-south-1", error=invalid, enabled=None,
                                        opt_in_status=None))
    known, _ = verdict_of(region_scan("af-south-1", error=invalid, enabled=True))
    assert unknown.status == RegionStatus.NOT_ENABLED
    assert known.status == RegionStatus.ERROR and "not enabled" in known.detail


def test_not_enabled_and_excluded_regions_are_listed_with_reasons():
    result = make_scan_result([covered(), region_scan("ap-east-1", enabled=False,
                                                      opt_in_status="DISABLED"),
                               region_scan("us-west-1", excluded="decommissioned")])
    judgement = judge(result)
    by_region = {v.region: v for v in judgement.regions}
    assert (by_region["ap-east-1"].status, by_region["ap-east-1"].reason) == (
        RegionStatus.NOT_ENABLED, "DISABLED")
    assert (by_region["us-west-1"].status, by_region["us-west-1"].reason) == (
        RegionStatus.EXCLUDED, "decommissioned")
    assert judgement.verdict.value == "COMPLIANT" and judgement.complete


def test_findings_error_marks_a_covered_region_incomplete():
    scan = region_scan("us-east-1", [analyzer()], [finding()], findings_errors=[ApiError(
        "ThrottlingException", "Rate exceeded", "access-analyzer:ListFindings")])
    verdict, judgement = verdict_of(scan)
    assert verdict.status == RegionStatus.COVERED and verdict.complete is False
    assert "Findings incomplete" in verdict.detail
    assert judgement.verdict.value == "INCOMPLETE"


@pytest.mark.parametrize("org, account, analyzers, role", [
    (organization(), MANAGEMENT, [], ScanningRole.MANAGEMENT),
    (organization(), ADMIN, [], ScanningRole.DELEGATED_ADMINISTRATOR),
    (organization(), MEMBER, [], ScanningRole.MEMBER),
    (organization(in_org=False), MEMBER, [], ScanningRole.NOT_IN_ORGANIZATION),
    (OrganizationFacts(in_organization=None, errors=(ApiError(
        "AccessDeniedException", "no", "organizations:DescribeOrganization"),)), ADMIN, [],
     ScanningRole.UNKNOWN),
    # Delegated administrators unknown: refused -> a member; owning org analyzers -> admin.
    (organization(admins=None, errors=[ApiError("AccessDeniedException", "no",
                                                "organizations:ListDelegatedAdministrators")]),
     MEMBER, [], ScanningRole.MEMBER),
    (organization(admins=None, errors=[ApiError("AccessDeniedException", "no",
                                                "organizations:ListDelegatedAdministrators")]),
     ADMIN, [analyzer()], ScanningRole.DELEGATED_ADMINISTRATOR),
    # A former administrator keeps its analyzers, FAILED: that is no evidence.
    (organization(admins=None, errors=[ApiError("AccessDeniedException", "no",
                                                "organizations:ListDelegatedAdministrators")]),
     MEMBER, [analyzer(status="FAILED", status_reason="DELEGATED_ADMINISTRATOR_DEREGISTERED")],
     ScanningRole.MEMBER),
    # DescribeOrganization refused, but Organizations names the account as administrator.
    (OrganizationFacts(in_organization=None, delegated_administrators=(ADMIN,), errors=(
        ApiError("AccessDeniedException", "no", "organizations:DescribeOrganization"),)),
     ADMIN, [], ScanningRole.DELEGATED_ADMINISTRATOR),
    (organization(admins=None, errors=[ApiError("ThrottlingException", "slow",
                                                "organizations:ListDelegatedAdministrators")]),
     ADMIN, [], ScanningRole.UNKNOWN),
])
def test_scanning_role(org, account, analyzers, role):
    found, detail = scanning_role(Identity(account, "arn"), org, analyzers)
    assert found == role and detail


def test_member_scan_is_not_a_wall_of_false_no_analyzer_gaps():
    org = organization(trusted=None, admins=None, errors=[
        ApiError("AccessDeniedException", "no", "organizations:ListDelegatedAdministrators"),
        ApiError("AccessDeniedException", "no",
                 "organizations:ListAWSServiceAccessForOrganization")])
    result = make_scan_result([region_scan("us-east-1", []), region_scan("eu-west-1", [
        analyzer("eu-west-1", type="ACCOUNT", account=MEMBER)])], org=org, account=MEMBER)
    judgement = judge(result)
    assert judgement.role == ScanningRole.MEMBER
    assert [v.status for v in judgement.regions] == [RegionStatus.ERROR, RegionStatus.ERROR]
    assert [g.code for g in judgement.gaps] == ["SCANNED_FROM_MEMBER_ACCOUNT"]
    assert judgement.verdict.value == "INCOMPLETE"


def test_trusted_access_and_delegated_administrator_gaps():
    judgement = judge(make_scan_result(org=organization(trusted=False, admins=()),
                                       account=MANAGEMENT))
    assert [g.code for g in judgement.gaps] == ["TRUSTED_ACCESS_DISABLED"]
    assert judgement.gaps[0].severity.value == "CRITICAL"
    assert [a.code for a in judgement.advisories] == ["NO_DELEGATED_ADMINISTRATOR"]
    assert judgement.verdict.value == "NON_COMPLIANT"
    # A missing delegated administrator alone is advice, not non-compliance.
    alone = judge(make_scan_result(org=organization(admins=()), account=MANAGEMENT))
    assert alone.gaps == () and alone.verdict.value == "COMPLIANT"


def test_unknown_organization_facts_make_the_result_incomplete():
    org = organization(trusted=None, errors=[ApiError(
        "AccessDeniedException", "no", "organizations:ListAWSServiceAccessForOrganization")])
    judgement = judge(make_scan_result(org=org))
    assert judgement.complete is False
    assert any("trusted access unknown" in r for r in judgement.incomplete_reasons)


def test_interrupted_scan_is_incomplete():
    judgement = judge(make_scan_result(interrupted=True))
    assert judgement.verdict.value == "INCOMPLETE"
    assert "the scan was interrupted" in judgement.incomplete_reasons


def test_gap_text_table_is_complete_and_fills_every_placeholder():
    values = {"region": "r", "account": "a", "admin": "b", "admin_role": "c",
              "management": "m", "name": "n", "type": "t", "present": "p", "status": "s",
              "reason_text": "", "role_detail": "", "others": "", "blocked": "", "why": "",
              "role_name": "r", "analyzer": "a", "where": "w", "filter": "f", "archived": "0",
              "analyzer_arg": "a", "rule_arg": "r", "owner": "o", "archived_command": "c",
              "delete": "d", "what": "w", "expires": "e", "ticket": "", "reason": "r",
              "matched": "m", "days": "d", "source": "s", "rules_file": "f"}
    for code, text in GAP_TEXT.items():
        if code.startswith("EXCEPTION_"):
            # About the configuration, not AWS: no command renews an approval.
            assert text.remediation.startswith("Edit {source}: "), code
        else:
            assert text.remediation.startswith(("aws ", "aa-scan ")), code  # a command, only
        assert "(" not in text.remediation, code
        for template in (text.title, text.detail, text.remediation, text.note):
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
            assert fields <= set(values), (code, fields - set(values))
            assert template.format(**values)


def test_unknown_role_without_evidence_does_not_report_absence_as_gaps():
    # A member whose DescribeOrganization is refused: no region may be called a gap.
    org = OrganizationFacts(in_organization=None, errors=(
        ApiError("AccessDeniedException", "no", "organizations:DescribeOrganization"),))
    judgement = judge(make_scan_result([region_scan("us-east-1", []), covered("eu-west-1")],
                                       org=org, account=MEMBER))
    assert judgement.role == ScanningRole.UNKNOWN
    # An ACTIVE organization analyzer shows the account is where they live: absence counts.
    by_region = {v.region: v.status for v in judgement.regions}
    assert by_region == {"us-east-1": RegionStatus.GAP, "eu-west-1": RegionStatus.COVERED}
    assert [g.code for g in judgement.gaps] == ["NO_ANALYZER"]
    # Without that evidence, nothing is called a gap.
    no_evidence = judge(make_scan_result([region_scan("us-east-1", [])], org=org,
                                         account=MEMBER))
    assert [v.status for v in no_evidence.regions] == [RegionStatus.ERROR]
    assert [g.code for g in no_evidence.gaps] == ["ANALYZER_VISIBILITY_UNKNOWN"]
    assert no_evidence.verdict.value == "INCOMPLETE"


def test_management_with_unknown_delegated_administrator_is_not_conclusive():
    org = organization(admins=None, errors=[ApiError(
        "AccessDeniedException", "no", "organizations:ListDelegatedAdministrators")])
    judgement = judge(make_scan_result([region_scan("us-east-1", [])], org=org,
                                       account=MANAGEMENT))
    assert judgement.role == ScanningRole.MANAGEMENT
    assert judgement.regions[0].status == RegionStatus.ERROR
    assert judgement.verdict.value == "INCOMPLETE"


def test_nothing_assessed_is_never_compliant():
    judgement = judge(make_scan_result([region_scan("ap-east-1", enabled=False,
                                                    opt_in_status="DISABLED")]))
    assert judgement.verdict.value == "INCOMPLETE"
    assert "no region was assessed" in judgement.incomplete_reasons
    empty = judge(make_scan_result([]))
    assert empty.verdict.value == "INCOMPLETE"


def test_fewer_findings_than_the_statistics_announce_is_incomplete():
    from scanner.model import FindingsStatistics

    scan = region_scan("us-east-1", [analyzer()], [finding(), finding()],
                       statistics=FindingsStatistics(active=3, archived=0, resolved=0))
    verdict, judgement = verdict_of(scan)
    assert verdict.status == RegionStatus.COVERED and verdict.complete is False
    assert verdict.error is not None and verdict.error.code == "FindingsShortfall"
    assert "reports 3 active findings but 2 were read" in verdict.detail
    assert judgement.verdict.value == "INCOMPLETE"
    exact = region_scan("us-east-1", [analyzer()], [finding(), finding()],
                        statistics=FindingsStatistics(active=2, archived=0, resolved=0))
    assert verdict_of(exact)[0].complete is True


def test_a_former_administrators_failed_analyzer_is_not_a_gap_of_the_organization():
    org = organization(trusted=None, admins=None, errors=[
        ApiError("AccessDeniedException", "no", "organizations:ListDelegatedAdministrators")])
    failed = analyzer("us-east-1", status="FAILED",
                      status_reason="DELEGATED_ADMINISTRATOR_DEREGISTERED", account=MEMBER)
    judgement = judge(make_scan_result([region_scan("us-east-1", [failed])], org=org,
                                       account=MEMBER))
    assert judgement.role == ScanningRole.MEMBER
    assert judgement.regions[0].status == RegionStatus.ERROR
    assert [g.code for g in judgement.gaps] == ["SCANNED_FROM_MEMBER_ACCOUNT"]


def test_deregistered_administrator_analyzer_is_deleted_before_it_is_recreated():
    scan = region_scan("eu-west-2", [analyzer("eu-west-2", name="org", status="FAILED",
                                              status_reason="DELEGATED_ADMINISTRATOR_DEREGISTERED")])
    gap = verdict_of(scan)[0].gaps[0]
    assert_recreated(gap.remediation, "org", "eu-west-2")
    assert "create-archive-rule" in gap.remediation_note


def assert_recreated(remediation: str, name: str, region: str) -> None:
    """Delete-then-create, its archive rules saved before and each re-created after."""
    save, delete, create, restore = remediation.splitlines()
    rules = f"archive-rules-{name}-{region}.json"
    assert save.startswith(f"aws accessanalyzer list-archive-rules --analyzer-name {name} "
                           f"--region {region} ") and save.endswith(f"> {rules}")
    assert delete == f"aws accessanalyzer delete-analyzer --analyzer-name {name} --region {region}"
    assert create == (f"aws accessanalyzer create-analyzer --analyzer-name {name} "
                      f"--type ORGANIZATION --region {region}")
    assert restore.startswith(f"jq -c --arg analyzer {name} ") and rules in restore
    assert f"aws accessanalyzer create-archive-rule --region {region} --cli-input-json" in restore


# -- issue 14: wrong answers an independent probe found ------------------------------------

DA_ORG = organization(admins=(ADMIN,))


def test_management_owning_active_analyzers_everywhere_is_compliant_despite_a_delegate():
    regions = [region_scan(r, [analyzer(r, account=MANAGEMENT)])
               for r in ("us-east-1", "eu-west-1")]
    judgement = judge(make_scan_result(regions, org=DA_ORG, account=MANAGEMENT))
    assert judgement.role == ScanningRole.MANAGEMENT
    assert [v.status for v in judgement.regions] == [RegionStatus.COVERED] * 2
    assert (judgement.verdict.value, judgement.complete) == ("COMPLIANT", True)
    assert judgement.gaps == () and judgement.incomplete_reasons == ()
    # The fact is kept, as advice that does not change the verdict.
    advice = [a for a in judgement.advisories
              if a.code == "SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR"]
    assert len(advice) == 1 and advice[0].severity.value == "INFO"
    assert "not assessed" not in advice[0].detail


def test_the_visibility_gap_names_the_regions_it_held_back():
    regions = [region_scan("us-east-1", [analyzer(account=MANAGEMENT)]),
               region_scan("eu-west-1", [])]
    judgement = judge(make_scan_result(regions, org=DA_ORG, account=MANAGEMENT))
    assert [g.code for g in judgement.gaps] == [
        "SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR"]
    assert "eu-west-1" in judgement.gaps[0].detail
    assert "us-east-1" not in judgement.gaps[0].detail
    assert judgement.verdict.value == "INCOMPLETE" and judgement.complete is False


_ROLES = {"management+da": (MANAGEMENT, DA_ORG), "management": (MANAGEMENT, organization(
    admins=())), "admin": (ADMIN, DA_ORG), "member": (MEMBER, DA_ORG),
    "unknown": (MEMBER, OrganizationFacts(in_organization=None)),
    "outside": (MEMBER, OrganizationFacts(in_organization=False))}
_ANALYZER_SETS = [
    [], [("ORGANIZATION", "ACTIVE")], [("ORGANIZATION", "FAILED")], [("ACCOUNT", "ACTIVE")],
    [("ORGANIZATION", "ACTIVE"), ("ORGANIZATION_UNUSED_ACCESS", "ACTIVE")],
    [("ORGANIZATION", "ACTIVE"), ("ORGANIZATION_UNUSED_ACCESS", "FAILED")],
    [("ORGANIZATION", "CREATING"), ("ORGANIZATION", "FAILED")], "denied", "not-enabled"]


def _random_region(name, choice):
    if choice == "denied":
        return region_scan(name, error=DENIED)
    if choice == "not-enabled":
        return region_scan(name, enabled=False, opt_in_status="DISABLED")
    return region_scan(name, [analyzer(name, type=t, status=s, name=f"{t}-{s}-{i}")
                              for i, (t, s) in enumerate(choice)])


@pytest.mark.parametrize("role", sorted(_ROLES))
@pytest.mark.parametrize("types", [("ORGANIZATION",), UNUSED, INTERNAL])
def test_verdict_invariants_hold_for_every_mix_of_regions(role, types):
    """complete with INCOMPLETE never happens; a gap about where the scan ran never stands
    without a region it held back; no region is both a gap and not assessed."""
    import random

    account, org = _ROLES[role]
    rng = random.Random(f"{role}{types}")
    for _ in range(150):
        names = [f"r{i}-{c}" for i, c in enumerate(rng.sample(range(1000), rng.randint(1, 4)))]
        regions = [_random_region(n, rng.choice(_ANALYZER_SETS)) for n in names]
        judgement = judge(make_scan_result(regions, org=org, account=account,
                                           coverage_types=types))
        state = (role, types, [r.analyzers for r in regions])
        if judgement.complete:
            assert judgement.verdict.value != "INCOMPLETE", state
            assert not any(g.blocks_assessment for g in judgement.gaps), state
        if judgement.verdict.value == "INCOMPLETE":
            assert judgement.incomplete_reasons, state
        blocked = [v for v in judgement.regions if v.reason == "OrganizationAnalyzersNotVisible"]
        held = [r for r in judgement.incomplete_reasons if r.startswith("not assessed: ")]
        assert bool(blocked or held) == any(g.blocks_assessment for g in judgement.gaps), state
        for v in judgement.regions:
            assert not (v.gaps and v.status == RegionStatus.ERROR), state
        if judgement.complete and not judgement.gaps:
            assert judgement.verdict.value == "COMPLIANT", state


def test_a_required_type_the_delegate_may_own_is_not_assessed_not_a_gap():
    scan = region_scan("us-east-1", [analyzer(account=MANAGEMENT, name="org")])
    judgement = judge(make_scan_result([scan], org=DA_ORG, account=MANAGEMENT,
                                       coverage_types=INTERNAL))
    verdict = judgement.regions[0]
    assert (verdict.status, verdict.gaps) == (RegionStatus.ERROR, ())
    assert judgement.verdict.value == "INCOMPLETE"
    assert "ORGANIZATION_INTERNAL_ACCESS" in verdict.detail
    assert "covered by org (ORGANIZATION), whose findings were read" in verdict.detail
    # Seen from the delegated administrator, the same region is a real gap.
    from_admin = judge(make_scan_result([region_scan("us-east-1", [analyzer(name="org")])],
                                        coverage_types=INTERNAL))
    assert [g.code for g in from_admin.regions[0].gaps] == ["MISSING_REQUIRED_TYPE"]
    # The same rule for a requirement one analyzer anywhere meets: not assessed, not a gap.
    wide = judge(make_scan_result([scan], org=DA_ORG, account=MANAGEMENT,
                                  coverage_types=UNUSED))
    assert wide.regions[0].status == RegionStatus.COVERED and wide.verdict.value == "INCOMPLETE"
    assert [g.code for g in wide.gaps] == [
        "SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR"]
    assert "the ORGANIZATION_UNUSED_ACCESS requirement" in wide.gaps[0].detail
    assert any("no ACTIVE ORGANIZATION_UNUSED_ACCESS analyzer is visible in any region" in r
               for r in wide.incomplete_reasons)


def test_a_failed_required_type_beside_an_active_organization_analyzer_is_worded_truly():
    scan = region_scan("us-east-1", [
        analyzer(account=MANAGEMENT, name="org"),
        analyzer(account=MANAGEMENT, name="internal", type="ORGANIZATION_INTERNAL_ACCESS",
                 status="FAILED", status_reason="SERVICE_LINKED_ROLE_CREATION_FAILED")])
    verdict = judge(make_scan_result([scan], org=DA_ORG, account=MANAGEMENT,
                                     coverage_types=INTERNAL)).regions[0]
    assert verdict.status == RegionStatus.ERROR
    assert "no organization analyzer is visible" not in verdict.detail
    assert "whose findings were read" in verdict.detail
    assert "internal (FAILED: SERVICE_LINKED_ROLE_CREATION_FAILED)" in verdict.detail


def test_several_inactive_organization_analyzers_are_each_named():
    scan = region_scan("eu-west-1", [
        analyzer("eu-west-1", name="old", status="FAILED",
                 status_reason="DELEGATED_ADMINISTRATOR_DEREGISTERED"),
        analyzer("eu-west-1", name="new", status="CREATING")])
    gap = verdict_of(scan)[0].gaps[0]
    for text in ("old (FAILED: DELEGATED_ADMINISTRATOR_DEREGISTERED)", "new (CREATING)"):
        assert text in gap.title and text in gap.detail
    # The remediation is for the one that is cheapest to bring back: wait for CREATING.
    assert gap.remediation.startswith("aws accessanalyzer get-analyzer --analyzer-name new")


@pytest.mark.parametrize("trusted, enables", [(True, False), (False, True)])
def test_an_analyzer_disabled_with_trusted_access_is_recreated_once_access_is_back(
        trusted, enables):
    scan = region_scan("us-east-1", [analyzer(status="DISABLED",
                                              status_reason="AWS_SERVICE_ACCESS_DISABLED")])
    gap = verdict_of(scan, org=organization(trusted=trusted))[0].gaps[0]
    assert ("enable-aws-service-access" in gap.remediation) is enables
    assert "create-analyzer" in gap.remediation


def test_of_two_active_organization_analyzers_the_oldest_is_read_and_that_is_said():
    import datetime as dt
    from dataclasses import replace as dc_replace

    from scanner.judge import findings_source

    old = dc_replace(analyzer(name="zeta"), created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    new = dc_replace(analyzer(name="alpha"), created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert findings_source([new, old]) is old and findings_source([old, new]) is old
    verdict = verdict_of(region_scan("us-east-1", [new, old]))[0]
    assert verdict.status == RegionStatus.COVERED
    assert verdict.findings_selection is not None
    assert "zeta, the oldest of 2 ACTIVE ORGANIZATION analyzers" in verdict.findings_selection
    assert "not read: alpha" in verdict.findings_selection


def test_gaps_seen_from_the_delegated_administrator_alone_say_what_was_not_examined():
    """Probe: from the delegated administrator, an organization analyzer the management
    account created before the delegation is invisible; the gaps stand (the delegated
    administrator is where analyzers belong) but an advisory names the regions it may answer
    and the flag that examines the management account."""
    regions = [region_scan("us-east-1", [analyzer("us-east-1")]), region_scan("sa-east-1", [])]
    judgement = judge(make_scan_result(regions))
    assert [g.code for g in judgement.gaps] == ["NO_ANALYZER"]
    [advice] = [a for a in judgement.advisories if a.code == "ANALYZER_VISIBILITY_UNKNOWN"]
    assert advice.severity.value == "INFO" and not advice.blocks_assessment
    assert "sa-east-1" in advice.detail and "us-east-1" not in advice.detail
    assert "--admin-role-name" in advice.remediation
    covered_only = judge(make_scan_result(regions[:1]))
    assert not [a for a in covered_only.advisories if a.code == "ANALYZER_VISIBILITY_UNKNOWN"]


# -- issue 22: remediation a change ticket can carry ---------------------------------------


@pytest.mark.parametrize("error, fix, words", [
    (DENIED, "aws organizations list-policies-for-target --target-id ", ("SCP", "exclude")),
    (ApiError("ReadTimeoutError", "read timed out", "ListAnalyzers"), "aa-scan --workers",
     ("did not answer in time",)),
    (ApiError("ThrottlingException", "slow down", "ListAnalyzers"), "aa-scan --workers",
     ("throttled",)),
    (ApiError("InternalFailure", "boom", "ListAnalyzers"), "aa-scan --regions eu-west-1",
     ("exclude",)),
])
def test_every_region_not_assessed_has_a_fix_that_makes_the_next_run_complete(error, fix,
                                                                               words):
    verdict, _ = verdict_of(region_scan("eu-west-1", None, error=error))
    assert verdict.status == RegionStatus.ERROR
    assert verdict.remediation.startswith(fix)
    assert all(word in verdict.remediation + verdict.remediation_note for word in words)
    if error is DENIED:  # the exclusion comes with a reason to fill in, never without one
        assert 'exclude:\n  eu-west-1: "<why this region is blocked' in verdict.remediation


def test_a_region_invisible_from_a_member_account_says_where_to_scan_from():
    judgement = judge(make_scan_result([region_scan("us-east-1", [])], account=MEMBER))
    region = judgement.regions[0]
    assert region.status == RegionStatus.ERROR
    assert region.remediation.startswith("aa-scan --role-arn 'arn:aws:iam::")


def test_a_new_analyzer_is_named_as_the_organization_names_its_own():
    org = [analyzer("us-east-1", name="acme-org-aa"), analyzer("eu-west-1", name="acme-org-aa"),
           analyzer("eu-west-2", name="old", status="FAILED")]
    judgement = judge(make_scan_result([
        region_scan("us-east-1", [org[0]]), region_scan("eu-west-1", [org[1]]),
        region_scan("eu-west-2", [org[2]]), region_scan("sa-east-1", [])]))
    fixes = {g.region: g.remediation for g in judgement.gaps}
    assert fixes["sa-east-1"] == ("aws accessanalyzer create-analyzer --analyzer-name "
                                  "acme-org-aa --type ORGANIZATION --region sa-east-1")
    # A failed analyzer is re-created under its own name, its archive rules with it.
    assert_recreated(fixes["eu-west-2"], "old", "eu-west-2")


def test_an_analyzer_name_from_aws_is_one_shell_word_in_a_fix():
    hostile = "x; rm -rf ~ $(id)"
    gap = verdict_of(region_scan("eu-west-2", [
        analyzer("eu-west-2", name=hostile, status="FAILED")]))[0].gaps[0]
    for line in gap.remediation.splitlines()[:3]:
        assert "--analyzer-name 'x; rm -rf ~ $(id)' " in line
    assert "--arg analyzer 'x; rm -rf ~ $(id)' " in gap.remediation.splitlines()[3]


@pytest.mark.parametrize("analyzers, severity", [
    ([], "HIGH"),  # nothing analyzes the region
    ([analyzer(type="ACCOUNT")], "MEDIUM"),  # one account's resources still are
    ([analyzer(status="FAILED", status_reason="DELEGATED_ADMINISTRATOR_DEREGISTERED")],
     "HIGH"),  # nothing does, and it looks as if something did
    ([analyzer(status="CREATING")], "MEDIUM"),  # it will, once created
])
def test_severity_follows_the_kind_of_gap(analyzers, severity):
    assert verdict_of(region_scan("eu-west-1", analyzers))[0].gaps[0].severity.value == severity
