"""The one rule that says whether an archive rule can archive public findings, checked on the
operators Access Analyzer documents (eq, neq, contains, exists) and their combinations."""

from __future__ import annotations

import pytest

from reports.document.archive_rules import assess

PARTNER = "arn:aws:iam::999988887777:root"


@pytest.mark.parametrize("rule_filter, expected", [
    # Named trusted accounts, a required condition, a non-public or failed finding: narrow.
    ({"principal.AWS": {"eq": [PARTNER]}}, "narrow"),
    ({"principal.AWS": {"contains": ["999988887777"]}}, "narrow"),
    ({"condition.aws:PrincipalOrgID": {"exists": True}}, "narrow"),
    ({"condition.aws:SourceVpce": {"eq": ["vpce-1"]}}, "narrow"),
    ({"condition.aws:SourceVpce": {"contains": ["vpce-"]}}, "narrow"),
    ({"isPublic": {"eq": ["false"]}}, "narrow"),
    ({"isPublic": {"neq": ["true"]}}, "narrow"),
    ({"isPublic": {"exists": False}}, "narrow"),
    ({"error": {"exists": True}}, "narrow"),
    # Named resources or findings, not asking for public ones: narrow.
    ({"resource": {"eq": ["arn:aws:s3:::acme-logs"]}}, "narrow"),
    # `contains` is a substring test: a whole ARN is a prefix of every longer one (this rule
    # also archives a new public bucket acme-logs-public), so it names nothing.
    ({"resource": {"contains": ["arn:aws:s3:::acme-logs"]}}, "broad"),
    ({"resource": {"contains": ["arn:aws:iam::333333333333:role/"]}}, "broad"),
    ({"isPublic": {"eq": ["true"]}, "resource": {"contains": ["arn:aws:s3:::site"]}},
     "broad"),
    ({"id": {"eq": ["0b1c-finding"]}}, "narrow"),
    # A criterion no finding meets: the rule archives nothing.
    ({"resource": {"eq": ["arn:aws:s3:::a"], "neq": ["arn:aws:s3:::a"]}}, "narrow"),
    ({"resourceType": {"exists": False}}, "narrow"),
    # Asking for public findings, whatever else: broad, or of named resources.
    ({"isPublic": {"eq": ["true"]}}, "broad"),
    ({"isPublic": {"neq": ["false"]}}, "broad"),
    ({"isPublic": {"contains": ["ru"]}}, "broad"),
    ({"isPublic": {"eq": ["true"]}, "resourceType": {"eq": ["AWS::S3::Bucket"]}}, "broad"),
    ({"isPublic": {"eq": ["true"]}, "resource": {"eq": ["arn:aws:s3:::site"]}},
     "public_named"),
    # Nothing narrows principal, condition or resource: any new public grant is archived.
    ({}, "broad"),
    ({"resourceType": {"eq": ["AWS::S3::Bucket"]}}, "broad"),
    ({"resourceOwnerAccount": {"eq": ["666666666666"]}}, "broad"),
    ({"isPublic": {"exists": True}}, "broad"),
    ({"isPublic": {"eq": ["true", "false"]}}, "broad"),
    ({"principal.AWS": {"neq": [PARTNER]}}, "broad"),
    ({"principal.AWS": {"exists": True}}, "broad"),
    ({"principal.AWS": {"contains": ["*"]}}, "broad"),
    ({"principal.AWS": {"eq": ["*"]}}, "broad"),
    ({"condition.aws:SourceIp": {"neq": ["10.0.0.0/8"]}}, "broad"),
    ({"condition.aws:SourceIp": {"exists": False}}, "broad"),
    ({"resource": {"contains": ["acme-"]}}, "broad"),  # a fragment names no resource
    ({"resource": {"neq": ["arn:aws:s3:::acme-logs"]}}, "broad"),
    ({"resource": {"contains": ["arn:aws:s3:::"]}}, "broad"),  # every bucket
    # Everyone excluded, but a public grant to a federated principal still archived.
    ({"principal.AWS": {"neq": ["*"]}}, "broad"),
    ({"principal.Federated": {"eq": ["cognito-identity.amazonaws.com"]}}, "broad"),
    # AND of criteria: one that excludes public grants is enough.
    ({"resourceType": {"eq": ["AWS::S3::Bucket"]}, "principal.AWS": {"eq": [PARTNER]}},
     "narrow"),
    ({"principal.AWS": {"neq": ["*"], "exists": True}}, "narrow"),
    # An operator or shape this version does not know narrows nothing.
    ({"principal.AWS": {"startsWith": ["arn:"]}}, "broad"),
    ({"principal.AWS": "oops"}, "broad"),
    (["not", "a", "filter"], "broad"),
])
def test_each_filter_is_classified_by_what_a_new_public_grant_would_meet(rule_filter,
                                                                          expected):
    assert assess(rule_filter).rule_class == expected


def test_the_reason_names_what_excludes_a_public_grant_or_lets_it_through():
    narrow = assess({"principal.AWS": {"eq": [PARTNER]}})
    assert not narrow.flagged and "principal.AWS excludes" in narrow.why
    broad = assess({"resourceType": {"eq": ["AWS::KMS::Key"]}})
    assert broad.flagged and "of type AWS::KMS::Key" in broad.why
    assert "isPublic is true" in assess({"isPublic": {"eq": ["true"]}}).why
