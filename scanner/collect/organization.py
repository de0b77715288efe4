"""Who is scanning, and what Organizations says about the Access Analyzer integration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import error_from
from ..errors import CredentialsError
from ..model import ACCESS_ANALYZER_PRINCIPAL, ApiError, Identity, OrganizationFacts

# Errors that mean the credentials themselves are unusable: nothing can be scanned.
CREDENTIAL_ERRORS = frozenset({
    "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
    "SignatureDoesNotMatch", "InvalidAccessKeyId", "IncompleteSignature", "AuthFailure",
    "RequestExpired",
})


def collect_identity(sts: Any) -> Identity:
    try:
        response = sts.get_caller_identity()
    except ClientError as exc:
        code, message = error_from(exc, "GetCallerIdentity")
        if code in CREDENTIAL_ERRORS:
            raise CredentialsError(f"the AWS credentials were rejected: {code}: {message}"
                                   ) from None
        raise CredentialsError(f"sts:GetCallerIdentity failed: {code}: {message}") from None
    except BotoCoreError as exc:
        raise CredentialsError(f"cannot reach AWS STS to check the credentials: {exc}") from None
    return Identity(account_id=response["Account"], arn=response["Arn"])


def _attempt(operation: str, call: Callable[[], Any]) -> tuple[Any, ApiError | None]:
    try:
        return call(), None
    except (ClientError, BotoCoreError) as exc:
        code, message = error_from(exc, operation)
        return None, ApiError(code, message, f"organizations:{operation}")


def describe_organization(client: Any) -> tuple[Any, ApiError | None]:
    return _attempt("DescribeOrganization",
                    lambda: client.describe_organization()["Organization"])


def trusted_services(client: Any) -> tuple[Any, ApiError | None]:
    def call() -> frozenset[str]:
        pages = client.get_paginator("list_aws_service_access_for_organization").paginate()
        return frozenset(s["ServicePrincipal"] for page in pages
                         for s in page.get("EnabledServicePrincipals", []))

    return _attempt("ListAWSServiceAccessForOrganization", call)


def delegated_administrators(client: Any) -> tuple[Any, ApiError | None]:
    def call() -> tuple[str, ...]:
        pages = client.get_paginator("list_delegated_administrators").paginate(
            ServicePrincipal=ACCESS_ANALYZER_PRINCIPAL)
        return tuple(a["Id"] for page in pages for a in page.get("DelegatedAdministrators", []))

    return _attempt("ListDelegatedAdministrators", call)


def accounts(client: Any) -> tuple[Any, ApiError | None]:
    def call() -> dict[str, str]:
        pages = client.get_paginator("list_accounts").paginate()
        return {a["Id"]: a.get("Name", "") for page in pages for a in page.get("Accounts", [])}

    return _attempt("ListAccounts", call)


ORGANIZATION_CALLS = {
    "organization": describe_organization,
    "trusted_services": trusted_services,
    "delegated_administrators": delegated_administrators,
    "accounts": accounts,
}


def organization_facts(results: dict[str, tuple[Any, ApiError | None]]) -> OrganizationFacts:
    """Combine the four independent Organizations calls (made concurrently by the runner)."""
    errors = [error for _, error in results.values() if error is not None]
    organization, org_error = results["organization"]
    if org_error is not None and org_error.code == "AWSOrganizationsNotInUseException":
        return OrganizationFacts(in_organization=False, errors=())
    in_org = True if organization is not None else None
    services, _ = results["trusted_services"]
    admins, _ = results["delegated_administrators"]
    names, _ = results["accounts"]
    return OrganizationFacts(
        in_organization=in_org,
        organization_id=organization.get("Id") if organization else None,
        management_account_id=organization.get("MasterAccountId") if organization else None,
        trusted_services=services,
        delegated_administrators=admins,
        accounts=names,
        errors=tuple(errors),
    )
