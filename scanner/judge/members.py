"""The member view (IAM.28, per account): each account's own analyzers region by region, and
the StackSet that deploys an account analyzer where one is missing. A second view beside
the verdict: it never changes it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping

from reports.document.rules import MEMBER_SUMMARY_KEYS, NOT_ENABLED_CODES, member_outcome

from ..model import EXTERNAL_ACCESS_TYPES, Analyzer, ApiError, MemberScan, RegionScan
from .verdicts import MemberVerdict, MemberView

STACK_SET = "aa-scan-account-analyzer"
MEMBER_ANALYZER = "account-external-access"
# A CloudFormation template: one external access analyzer whose zone of trust is the account.
ACCOUNT_ANALYZER_TEMPLATE = f"""AWSTemplateFormatVersion: "2010-09-09"
Description: An IAM Access Analyzer external access analyzer for the account (AWS Security
  Hub control IAM.28), deployed by a service-managed StackSet.
Resources:
  AccountExternalAccessAnalyzer:
    Type: AWS::AccessAnalyzer::Analyzer
    Properties:
      AnalyzerName: {MEMBER_ANALYZER}
      Type: ACCOUNT
"""
MEMBER_NOTE = (
    "Run in the management account (or a delegated administrator for CloudFormation "
    "StackSets, adding --call-as DELEGATED_ADMIN), with trusted access for StackSets enabled; "
    f"save the template as {STACK_SET}.yaml and replace <root-or-ou-id> with the organization "
    "root or an OU holding the accounts. A service-managed StackSet never deploys to the "
    "management account itself: its commands, if any, are create-analyzer calls to run in it.")


def _member_cell(found: tuple[Analyzer, ...] | ApiError | None) -> tuple[str, ApiError | None]:
    if found is None:
        return "ERROR", ApiError("NotListed", "no answer", "access-analyzer:ListAnalyzers")
    if isinstance(found, ApiError):
        return ("NOT_ENABLED", None) if found.code in NOT_ENABLED_CODES else ("ERROR", found)
    owns = any(a.status == "ACTIVE" and a.type in EXTERNAL_ACCESS_TYPES for a in found)
    return ("PASS" if owns else "FAIL"), None


def judge_members(members: MemberScan, scans: tuple[RegionScan, ...],
                  management: str | None) -> MemberView:
    """Each account's own view, as IAM.28 and the AWS Config rule evaluate it: PASS where it
    owns an ACTIVE external access analyzer (ACCOUNT or ORGANIZATION), FAIL where it owns
    none, NOT_ENABLED where the region is not enabled, ERROR with why. A second view: it
    never changes the organization verdict."""
    verdicts: list[MemberVerdict] = []
    counts = {"accounts": len(members.accounts), "pass": 0, "fail": 0, "error": 0}
    failing: dict[str, list[str]] = {}
    for account in members.accounts:
        if account.suspended:
            verdicts.append(MemberVerdict(account.account_id, account.name, "SUSPENDED",
                                          None, {}, {}))
            continue
        if account.error is not None:  # not examined: each region it should have been is ERROR
            verdicts.append(MemberVerdict(
                account.account_id, account.name, "ERROR", account.error,
                {scan.region: "ERROR" if scan.scanned else "NOT_ENABLED" for scan in scans
                 if scan.excluded_reason is None}, {}))
            continue
        cells: dict[str, str] = {}
        errors: dict[str, ApiError] = {}
        for scan in scans:
            if scan.excluded_reason is not None:
                continue
            if not scan.scanned:
                cells[scan.region] = "NOT_ENABLED"
                continue
            cells[scan.region], error = _member_cell(account.regions.get(scan.region))
            if error is not None:
                errors[scan.region] = error
        failed = [r for r, cell in cells.items() if cell == "FAIL"]
        if failed:
            failing[account.account_id] = failed
        verdicts.append(MemberVerdict(account.account_id, account.name, "ASSESSED", None,
                                      cells, errors))
    for verdict in verdicts:
        key = MEMBER_SUMMARY_KEYS.get(member_outcome(verdict.status, verdict.regions.values()))
        if key is not None:
            counts[key] += 1
    commands = _member_remediation(failing, management)
    return MemberView(members.role_name, tuple(verdicts), counts, members.error,
                      ACCOUNT_ANALYZER_TEMPLATE if commands else None, commands,
                      MEMBER_NOTE if commands else "")


def _member_remediation(failing: Mapping[str, list[str]], management: str | None
                        ) -> tuple[str, ...]:
    """The StackSet, then one create-stack-instances per set of regions its accounts fail
    in (the management account: create-analyzer, which a StackSet cannot reach)."""
    if not failing:
        return ()
    groups: dict[tuple[str, ...], list[str]] = {}
    direct: list[str] = []
    for account_id, regions in failing.items():
        if account_id == management:
            direct += [f"aws accessanalyzer create-analyzer --analyzer-name {MEMBER_ANALYZER} "
                       f"--type ACCOUNT --region {shlex.quote(region)}" for region in regions]
        else:
            groups.setdefault(tuple(regions), []).append(account_id)
    commands = []
    if groups:
        commands.append(
            f"aws cloudformation create-stack-set --stack-set-name {STACK_SET} --template-body "
            f"file://{STACK_SET}.yaml --permission-model SERVICE_MANAGED --auto-deployment "
            "Enabled=false")
        commands += [
            f"aws cloudformation create-stack-instances --stack-set-name {STACK_SET} "
            "--deployment-targets '" + json.dumps(
                {"OrganizationalUnitIds": ["<root-or-ou-id>"], "Accounts": accounts,
                 "AccountFilterType": "INTERSECTION"}, separators=(",", ":"))
            + "' --regions " + " ".join(shlex.quote(r) for r in regions)
            for regions, accounts in groups.items()]
    return (*commands, *direct)
