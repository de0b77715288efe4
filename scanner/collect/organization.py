"""Who is scanning, and what Organizations says about the Access Analyzer integration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import attempt, error_from
from ..errors import CredentialsError
from ..model import ACCESS_ANALYZER_PRINCIPAL, ApiError, Identity, OrganizationFacts

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_sts import STSClient

T = TypeVar("T")
# Errors that mean the credentials themselves are unusable: nothing can be scanned.
CREDENTIAL_ERRORS = frozenset({
    "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
    "SignatureDoesNotMatch", "InvalidAccessKeyId", "IncompleteSignature", "AuthFailure",
    "RequestExpired",
})


def collect_identity(sts: STSClient) -> Identity:
    """Who the credentials are; CredentialsError when they cannot be used at all."""
    try:
        response = sts.get_caller_identity()
    except ClientError as exc:
        code, message = error_from(exc)
        if code in CREDENTIAL_ERRORS:
            raise CredentialsError(f"the AWS credentials were rejected: {code}: {message}"
                                   ) from None
        raise CredentialsError(f"sts:GetCallerIdentity failed: {code}: {message}") from None
    except BotoCoreError as exc:
        raise CredentialsError(f"cannot reach AWS STS to check the credentials: {exc}") from None
    return Identity(account_id=response["Account"], arn=response["Arn"])


def describe_organization(client: OrganizationsClient) -> dict[str, Any] | ApiError:
    """The organization (id, management account), or why it could not be read."""
    return attempt("organizations:DescribeOrganization",
                   lambda: dict(client.describe_organization()["Organization"]))


def trusted_services(client: OrganizationsClient) -> frozenset[str] | ApiError:
    """The service principals with trusted access, or why they could not be listed."""
    def call() -> frozenset[str]:
        pages = client.get_paginator("list_aws_service_access_for_organization").paginate()
        return frozenset(s["ServicePrincipal"] for page in pages
                         for s in page.get("EnabledServicePrincipals", []))

    return attempt("organizations:ListAWSServiceAccessForOrganization", call)


def delegated_administrators(client: OrganizationsClient) -> tuple[str, ...] | ApiError:
    """Access Analyzer's delegated administrators, or why they could not be listed."""
    def call() -> tuple[str, ...]:
        pages = client.get_paginator("list_delegated_administrators").paginate(
            ServicePrincipal=ACCESS_ANALYZER_PRINCIPAL)
        return tuple(a["Id"] for page in pages for a in page.get("DelegatedAdministrators", []))

    return attempt("organizations:ListDelegatedAdministrators", call)


def accounts(client: OrganizationsClient) -> dict[str, str] | ApiError:
    """Every account of the organization (id -> name), or why they could not be listed."""
    def call() -> dict[str, str]:
        pages = client.get_paginator("list_accounts").paginate()
        return {a["Id"]: a.get("Name", "") for page in pages for a in page.get("Accounts", [])}

    return attempt("organizations:ListAccounts", call)


def account_states(client: OrganizationsClient) -> tuple[tuple[str, str, str], ...]:
    """(id, name, status) of every account: ACTIVE, SUSPENDED (closed) ..."""
    pages = client.get_paginator("list_accounts").paginate()
    return tuple((a["Id"], a.get("Name", ""), str(a.get("Status") or a.get("State") or ""))
                 for page in pages for a in page.get("Accounts", []))


@dataclass(frozen=True)
class OrganizationAnswers:
    """The four independent Organizations calls, each an answer or the error it gave."""

    organization: dict[str, Any] | ApiError
    trusted_services: frozenset[str] | ApiError
    delegated_administrators: tuple[str, ...] | ApiError
    accounts: dict[str, str] | ApiError


def organization_facts(answers: OrganizationAnswers) -> OrganizationFacts:
    """Combine the four independent Organizations calls (made concurrently by the runner)."""
    fields = (answers.organization, answers.trusted_services, answers.delegated_administrators,
              answers.accounts)
    errors = tuple(a for a in fields if isinstance(a, ApiError))
    answer = answers.organization
    if isinstance(answer, ApiError) and answer.code == "AWSOrganizationsNotInUseException":
        return OrganizationFacts(in_organization=False, errors=())
    organization = None if isinstance(answer, ApiError) else answer

    def value(answer: T | ApiError) -> T | None:
        return None if isinstance(answer, ApiError) else answer

    return OrganizationFacts(
        in_organization=True if organization is not None else None,
        organization_id=organization.get("Id") if organization else None,
        management_account_id=organization.get("MasterAccountId") if organization else None,
        trusted_services=value(answers.trusted_services),
        delegated_administrators=value(answers.delegated_administrators),
        accounts=value(answers.accounts),
        errors=errors,
    )
