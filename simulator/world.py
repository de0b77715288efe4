"""A simulated AWS world on one loopback port: moto plus simulated Access Analyzer and Account.

One WSGI application answers every service. It reads the SigV4 credential scope of each
request (region and signing name) and the access key (the account), then:

- `access-analyzer`: the simulated service, behind the region's conditions (latency, rate
  limit, SCP-style denial, intermittent 500s, hangs), with call statistics;
- `account` ListRegions: answered from the scenario's region opt-in statuses (moto has none);
- `ec2` DescribeRegions: answered from the same statuses, so the fall-back agrees;
- `organizations`: moto, behind the access rules AWS applies to member accounts (moto answers
  a member's ListDelegatedAdministrators with an empty list; AWS answers it for a delegated
  administrator and denies other members);
- `sts` AssumeRole: denied for roles that do not exist (moto would hand out credentials);
- anything else: moto, unchanged.

Regions that are not enabled answer every call with the invalid-token error AWS gives there.
A world is seeded from a `Scenario` and hands out the environment a boto3 program needs.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from typing import Any
from unittest import mock
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from .accessanalyzer import AccessAnalyzerService, Analyzer, seed_findings
from .conditions import DENY_MESSAGE, RegionGate, Stats
from .protocol import Call, RestJsonService, ServiceError, parse_query
from .scenario import Scenario

StartResponse = Callable[..., Any]
ACCESS_ANALYZER = "access-analyzer.amazonaws.com"
# Signing names of services AWS serves from a global endpoint (scope region us-east-1).
GLOBAL_SERVICES = frozenset({"iam", "organizations", "account", "sts"})
# What a member account that is not a delegated administrator may call in Organizations.
MEMBER_ORGANIZATIONS_OPERATIONS = frozenset({
    "DescribeOrganization", "LeaveOrganization", "ListHandshakesForAccount",
    "DescribeHandshake", "AcceptHandshake", "DeclineHandshake",
})
# What an account outside any organization may call; anything else is refused with
# AWSOrganizationsNotInUseException (moto answers some List operations with empty lists).
STANDALONE_ORGANIZATIONS_OPERATIONS = frozenset({
    "CreateOrganization", "ListHandshakesForAccount", "DescribeHandshake", "AcceptHandshake",
    "DeclineHandshake",
})
EC2_OPT_IN = {"ENABLED_BY_DEFAULT": "opt-in-not-required", "ENABLED": "opted-in"}
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_WORLD_LOCK = threading.Lock()
_SEED_ACCESS_KEY = "AKIASIMULATORSEED000"
# Requests served at once; a request waiting out simulated latency holds one.
SERVER_THREADS = 96


@cache
def _shared_loader() -> Any:
    return botocore.loaders.create_loader()


class WorldError(RuntimeError):
    """The world could not be started as the scenario asks."""


def _protocol_error(service: str, code: str, message: str, status: int
                    ) -> tuple[int, dict[str, str], bytes]:
    """An error response in the wire protocol of the given signing name."""
    request_id = str(uuid.uuid4())
    if service in ("access-analyzer", "account"):
        body = json.dumps({"message": message}).encode()
        return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code,
                        "x-amzn-RequestId": request_id}, body
    if service == "organizations":
        body = json.dumps({"__type": code, "Message": message}).encode()
        return 400 if status < 500 else status, {
            "Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}, body
    if service == "ec2":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error>"
                f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
                f"</Errors><RequestID>{request_id}</RequestID></Response>").encode()
        return status, {"Content-Type": "text/xml"}, body
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
            f"</ErrorResponse>").encode()
    return status, {"Content-Type": "text/xml"}, body


def _expired_token(service: str) -> tuple[int, dict[str, str], bytes]:
    code = {"sts": "ExpiredToken", "iam": "ExpiredToken", "ec2": "RequestExpired"
            }.get(service, "ExpiredTokenException")
    return _protocol_error(service, code, "The security token included in the request is "
                           "expired", 403)


def _invalid_token(service: str) -> tuple[int, dict[str, str], bytes]:
    code = {"ec2": "AuthFailure", "sts": "InvalidClientTokenId", "iam": "InvalidClientTokenId"
            }.get(service, "UnrecognizedClientException")
    return _protocol_error(service, code, "The security token included in the request is invalid.",
                           403)


# S3 bucket subresources named in the operation they address (PutBucketPolicy ...).
_S3_SUBRESOURCES = {"policy": "Policy", "encryption": "Encryption", "versioning": "Versioning",
                    "acl": "Acl", "tagging": "Tagging", "location": "Location"}


def _s3_operation(method: str, path: str, query_string: str) -> str:
    """The S3 operation of a path-style request (S3 has no X-Amz-Target or Action), for the
    call statistics: enough to tell the writes a scan makes from its reads."""
    bucket, _, key = path.lstrip("/").partition("/")
    query = parse_qs(query_string, keep_blank_values=True)
    verb = {"GET": "Get", "PUT": "Put", "HEAD": "Head", "DELETE": "Delete",
            "POST": "Post"}.get(method, method.title())
    if key:
        return f"{verb}Object"
    if not bucket:
        return "ListBuckets"
    if method == "GET" and "versions" in query:
        return "ListObjectVersions"
    for name, label in _S3_SUBRESOURCES.items():
        if name in query:
            return f"{verb}Bucket{label}"
    return {"PUT": "CreateBucket", "GET": "ListObjects", "HEAD": "HeadBucket",
            "DELETE": "DeleteBucket"}.get(method, f"{verb}Bucket")


# Security Hub's REST paths (moto answers them; the statistics need their names).
_SECURITY_HUB_OPERATIONS = {
    ("POST", "/findings/import"): "BatchImportFindings", ("POST", "/findings"): "GetFindings",
    ("POST", "/accounts"): "EnableSecurityHub", ("GET", "/accounts"): "DescribeHub",
    ("DELETE", "/accounts"): "DisableSecurityHub", ("PATCH", "/findings"): "UpdateFindings",
    ("PATCH", "/findings/batchupdate"): "BatchUpdateFindings"}
SECURITY_HUB_BATCH = 100  # findings per BatchImportFindings (the API's limit)


def _security_hub_refusal(body: bytes, region: str, account: str
                          ) -> tuple[int, dict[str, str], bytes] | None:
    """What Security Hub refuses and moto takes: an account where Security Hub is not enabled
    in the region, more than 100 findings in one call, and a finding of the default product
    (a customer's own findings) for another account or region than the caller's."""
    from moto.securityhub.models import securityhub_backends

    def refuse(code: str, message: str, status: int) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code,
                        "x-amzn-RequestId": str(uuid.uuid4())}, json.dumps(
            {"Code": code, "Message": message}).encode()

    if not securityhub_backends[account][region].enabled:
        return refuse("InvalidAccessException", f"Account {account} is not subscribed to AWS "
                      "Security Hub", 401)
    findings = json.loads(body or b"{}").get("Findings", [])
    if len(findings) > SECURITY_HUB_BATCH:
        return refuse("InvalidInputException", f"Findings: {len(findings)} findings, at most "
                      f"{SECURITY_HUB_BATCH} per request", 400)
    own = re.compile(rf"^arn:aws[a-z-]*:securityhub:{region}:{account}:product/{account}/"
                     r"default$")
    for finding in findings:
        if not own.match(str(finding.get("ProductArn"))) or \
                finding.get("AwsAccountId") != account:
            return refuse("AccessDeniedException", f"Account {account} can import findings "
                          f"of its default product in {region} only, not "
                          f"{finding.get('ProductArn')} for account "
                          f"{finding.get('AwsAccountId')}", 403)
    return None


_WORKFLOW_STATUSES = ("NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED")
NOTE_MAX = 512  # Note.Text and Note.UpdatedBy: at most 512 characters each


def _security_hub_batch_update(body: bytes, region: str, account: str
                               ) -> tuple[int, dict[str, str], bytes]:
    """BatchUpdateFindings (which moto lacks), the part aa-scan uses: a finding's
    Workflow.Status and Note, for the caller's own findings in the region called; at most
    100 a call; a finding not there is an UnprocessedFinding, not an error."""
    from moto.securityhub.models import securityhub_backends

    def answer(status: int, payload: Mapping[str, Any], code: str | None = None
               ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
        if code:
            headers["x-amzn-ErrorType"] = code
        return status, headers, json.dumps(payload).encode()

    backend = securityhub_backends[account][region]
    if not backend.enabled:
        return answer(401, {"Code": "InvalidAccessException", "Message": f"Account "
                            f"{account} is not subscribed to AWS Security Hub"},
                      "InvalidAccessException")
    request = json.loads(body or b"{}")
    identifiers = request.get("FindingIdentifiers") or []
    workflow = (request.get("Workflow") or {}).get("Status")
    note = request.get("Note")
    problem = None
    if not identifiers or len(identifiers) > SECURITY_HUB_BATCH:
        problem = f"FindingIdentifiers: 1 to {SECURITY_HUB_BATCH} findings per request"
    elif workflow is not None and workflow not in _WORKFLOW_STATUSES:
        problem = f"Workflow.Status: {workflow!r} is not one of {_WORKFLOW_STATUSES}"
    elif note is not None and (not note.get("Text") or not note.get("UpdatedBy")
                               or len(note["Text"]) > NOTE_MAX
                               or len(note["UpdatedBy"]) > NOTE_MAX):
        problem = f"Note: Text and UpdatedBy, each 1 to {NOTE_MAX} characters"
    if problem:
        return answer(400, {"Code": "InvalidInputException", "Message": problem},
                      "InvalidInputException")
    by_id = {f.id: f for f in backend.findings}
    processed, unprocessed = [], []
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for identifier in identifiers:
        found = by_id.get(identifier.get("Id"))
        if found is None or found.data.get("ProductArn") != identifier.get("ProductArn"):
            unprocessed.append({"FindingIdentifier": identifier, "ErrorCode": "FindingNotFound",
                                "ErrorMessage": "Finding Not Found"})
            continue
        if workflow is not None:
            found.data["Workflow"] = {"Status": workflow}
        if note is not None:
            found.data["Note"] = {"Text": note["Text"], "UpdatedBy": note["UpdatedBy"],
                                  "UpdatedAt": now}
        processed.append(identifier)
    return answer(200, {"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


class World:
    """A running simulated world. Use as a context manager, or start() / stop()."""

    def __init__(self, scenario: Scenario, host: str = "127.0.0.1", port: int = 0) -> None:
        self.scenario = scenario
        self.host = host
        self.port = port
        self.stats = Stats()
        self.gates = {region: RegionGate(scenario.conditions_for(region), seed=scenario.seed + i)
                      for i, region in enumerate(scenario.regions)}
        self.sts_gate = RegionGate(scenario.sts_conditions, seed=scenario.seed - 1)
        self.access_analyzer = AccessAnalyzerService(self, scenario.page_size_cap)
        self.account_service = RestJsonService("account", {"ListRegions": self._list_regions})
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._moto_app: Any = None
        self._exempt_keys: set[str] = {_SEED_ACCESS_KEY}
        self._account_cache: dict[str, str] = {}
        self._management_credentials: dict[str, str] | None = None
        self.scanner_credentials: dict[str, str] = {}
        self.scanner_arn = ""
        self._boto3_session: Any = None
        # Roles whose trust policy requires an external id: (account, role name) -> the id.
        self._external_ids: dict[tuple[str, str], str] = {}
        # Access key -> when it expires (epoch seconds), for scenario.session_seconds.
        self._expiry: dict[str, float] = {}

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> World:
        from moto.moto_api._internal.models import moto_api_backend
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from waitress.server import create_server

        if not _WORLD_LOCK.acquire(blocking=False):
            raise WorldError("another simulated world is already running in this process "
                             "(moto's state is per process)")
        try:
            moto_api_backend.reset()
            self._moto_app = DomainDispatcherApplication(create_backend_app)
            # waitress rather than moto's werkzeug server: werkzeug closes every connection,
            # while AWS endpoints (and so the clients under test) keep them alive.
            self._server = create_server(self, host=self.host, port=self.port,
                                         threads=SERVER_THREADS, ident="simulated-aws",
                                         connection_limit=1000, channel_timeout=120)
            self.port = int(self._server.effective_port)
            self._thread = threading.Thread(target=self._server.run, name="simulated-aws",
                                            daemon=True)
            self._thread.start()
            self._seed()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._server is not None:
            server = self._server

            def close_all() -> None:  # runs in the server's own loop, which ends when all
                # A request still finishing wakes the loop by writing to the trigger's pipe:
                # once the pipe is closed its descriptor may belong to another file (the
                # next world's, a report being written), so later wake-ups write nothing.
                server.trigger._physical_pull = lambda: None
                for channel in list(server._map.values()):  # its sockets are closed
                    channel.close()

            try:
                server.trigger.pull_trigger(close_all)
            except OSError:
                # A request finishing at this moment pulls the trigger too: the loop can
                # run close_all (closing the trigger's pipe) between the queueing of the
                # thunk and this call's own wake-up write, which then finds the pipe closed.
                # The loop did what was asked; anything else is a real failure.
                if not getattr(server.trigger, "_closed", False):
                    raise
            if self._thread is not None:
                self._thread.join(timeout=5)
            server.task_dispatcher.shutdown(timeout=1)
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if _WORLD_LOCK.locked() and self._moto_app is not None:
            self._moto_app = None
            _WORLD_LOCK.release()

    def environment(self) -> dict[str, str]:
        """What a boto3 program needs to talk to this world (and nothing real)."""
        home = "us-east-1" if "us-east-1" in self.scenario.regions else next(
            iter(self.scenario.enabled_regions or self.scenario.regions))
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ENDPOINT_URL_ACCESSANALYZER": self.url,
            "AWS_ACCESS_KEY_ID": self.scanner_credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": self.scanner_credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": self.scanner_credentials["SessionToken"],
            "AWS_DEFAULT_REGION": home,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service: str, region: str = "us-east-1",
               credentials: Mapping[str, str] | None = None, **config: Any) -> Any:
        """A boto3 client for this world (scanner's credentials unless others are given)."""
        creds = credentials or self.scanner_credentials
        return self._session().client(
            service, region_name=region, endpoint_url=self.url,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"),
            config=Config(**config) if config else None,
        )

    def _session(self) -> Any:
        """One boto3 session for the world's own clients, on a loader of botocore's service
        models shared by every world of the process: a new session re-reads them (about 0.2 s
        of JSON a client), which made starting a world cost seconds."""
        if self._boto3_session is None:
            core = botocore.session.Session()
            core.register_component("data_loader", _shared_loader())
            self._boto3_session = boto3.session.Session(botocore_session=core)
        return self._boto3_session

    def credentials_for(self, account_id: str, role_name: str = "AuditRole") -> dict[str, str]:
        """Credentials of a role in any account of the world (for tests and tools)."""
        sts = self._seed_client("sts", self._management_credentials)
        response = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role_name}",
                                   RoleSessionName="simulator")
        return dict(response["Credentials"])

    # -- seeding ---------------------------------------------------------------------------
    def _seed_client(self, service: str, credentials: Mapping[str, str] | None = None) -> Any:
        creds = credentials or {"AccessKeyId": _SEED_ACCESS_KEY,
                                "SecretAccessKey": "simulator", "SessionToken": ""}
        return self._session().client(
            service, region_name="us-east-1", endpoint_url=self.url,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken") or None,
        )

    def _assume(self, account_id: str, role_name: str, source: Mapping[str, str] | None,
                exempt: bool) -> dict[str, str]:
        sts = self._seed_client("sts", source)
        response = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role_name}",
                                   RoleSessionName="aa-scan" if not exempt else "simulator")
        creds = dict(response["Credentials"])
        if exempt:
            self._exempt_keys.add(creds["AccessKeyId"])
        self._account_cache[creds["AccessKeyId"]] = account_id
        return creds

    @staticmethod
    def _create_role(account_id: str, role_name: str) -> None:
        """A role anyone may assume, made in moto's IAM directly: through the API it took an
        AssumeRole and a CreateRole round trip per account (seconds for 1,000 accounts)."""
        from moto.iam.models import iam_backends

        iam = iam_backends[account_id]["aws"]
        if any(r.name == role_name for r in iam.roles.values()):
            return
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
        iam.create_role(role_name, json.dumps(trust), "/", None, "", [], None)

    def _seed(self) -> None:
        scenario = self.scenario
        org = scenario.organization
        role = scenario.scanner_role
        if org:
            management = self._assume(org.management.id, "OrganizationAccountAccessRole", None,
                                      exempt=True)
            self._management_credentials = management
            organizations = self._seed_client("organizations", management)
            with mock.patch("moto.organizations.utils.make_random_org_id",
                            return_value=org.id):
                organizations.create_organization(FeatureSet="ALL")
            from moto.organizations.models import organizations_backends

            # moto names the management account "master"; use the scenario's name.
            for account in organizations_backends[org.management.id]["aws"].accounts:
                if account.id == org.management.id:
                    account.name = org.management.name
            ids: Iterator[str] = iter([m.id for m in org.members])
            with mock.patch("moto.organizations.utils.make_random_account_id",
                            side_effect=lambda: next(ids)):
                for member in org.members:
                    organizations.create_account(
                        Email=f"{member.name.replace(' ', '-')}@example.invalid",
                        AccountName=member.name)
            suspended = {m.id for m in org.members if m.suspended}
            for account in organizations_backends[org.management.id]["aws"].accounts:
                if account.id in suspended:
                    account.close()  # SUSPENDED in ListAccounts, as a closed account is
            if org.trusted_access:
                organizations.enable_aws_service_access(ServicePrincipal=ACCESS_ANALYZER)
            if org.delegated_administrator:
                organizations.register_delegated_administrator(
                    AccountId=org.delegated_administrator, ServicePrincipal=ACCESS_ANALYZER)
            self._create_role(org.management.id, "OrganizationAccountAccessRole")
            role_accounts = {org.management.id, scenario.scanner_account}
            if org.delegated_administrator:
                role_accounts.add(org.delegated_administrator)
        else:
            self._management_credentials = self._assume(
                scenario.scanner_account, "OrganizationAccountAccessRole", None, exempt=True)
            role_accounts = {scenario.scanner_account}
        for account_id in sorted(role_accounts):
            self._create_role(account_id, role)
        for extra in scenario.roles:
            for account_id in extra.account_ids:
                self._create_role(account_id, extra.name)
                if extra.external_id:
                    self._external_ids[(account_id, extra.name)] = extra.external_id
        self.scanner_credentials = self._assume(scenario.scanner_account, role,
                                                self._management_credentials, exempt=False)
        self.scanner_arn = (f"arn:aws:sts::{scenario.scanner_account}:assumed-role/{role}/"
                            "aa-scan")
        for spec in scenario.analyzers:
            analyzer = Analyzer(spec.account_id, spec.region, spec.name, spec.type, spec.status,
                                spec.status_reason, managed_by=spec.managed_by)
            if spec.created_at is not None:
                analyzer.created_at = spec.created_at
            for rule in spec.archive_rules:
                analyzer.archive_rules[rule.name] = {
                    "ruleName": rule.name, "filter": rule.filter,
                    "createdAt": analyzer.created_at, "updatedAt": analyzer.created_at}
            seed_findings(analyzer, spec.findings)
            self.access_analyzer.add_analyzer(analyzer)
        self.stats.reset()

    # -- what the services need to know ----------------------------------------------------
    def account_for(self, access_key: str) -> str:
        account = self._account_cache.get(access_key)
        if account is None:
            from moto.iam.models import get_account_id_from

            account = get_account_id_from(access_key)
            self._account_cache[access_key] = account
        return account

    def delegated_administrators(self) -> set[str]:
        """Accounts registered as a delegated administrator of any service (live, from moto)."""
        org = self.scenario.organization
        if org is None:
            return set()
        from moto.organizations.models import organizations_backends

        backend = organizations_backends[org.management.id]["aws"]
        return {admin.account.id for admin in backend.admins if admin.services}

    def access_analyzer_administrators(self) -> set[str]:
        org = self.scenario.organization
        if org is None:
            return set()
        from moto.organizations.models import organizations_backends

        backend = organizations_backends[org.management.id]["aws"]
        return {admin.account.id for admin in backend.admins if ACCESS_ANALYZER in admin.services}

    def organization_analyzer_denial(self, account_id: str) -> str | None:
        org = self.scenario.organization
        if org is None or account_id not in {a.id for a in org.accounts}:
            return "The account is not a member of an organization."
        from moto.organizations.models import organizations_backends

        backend = organizations_backends[org.management.id]["aws"]
        if not any(s["ServicePrincipal"] == ACCESS_ANALYZER for s in backend.services):
            return ("Trusted access for IAM Access Analyzer is not enabled in AWS "
                    "Organizations.")
        admins = self.access_analyzer_administrators()
        if account_id == org.management.id or account_id in admins:
            return None
        return ("You must be the management account or the delegated administrator of the "
                "organization to create an organization analyzer.")

    # -- the WSGI application --------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sim/"):
            return self._admin(environ, start_response)
        match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not match:
            return self._moto_app(environ, start_response)
        access_key, region, service = match.groups()
        body = self._body(environ)
        if (service not in GLOBAL_SERVICES and region in self.scenario.regions
                and self.scenario.regions[region] not in ("ENABLED", "ENABLED_BY_DEFAULT")):
            return self._reply(start_response, *_invalid_token(service))
        if not self._known_key(access_key):
            return self._reply(start_response, *_invalid_token(service))
        if (self.scenario.scanner_credentials_expired
                and access_key == self.scanner_credentials.get("AccessKeyId")):
            return self._reply(start_response, *_expired_token(service))
        expiry = self._expiry.get(access_key)
        if expiry is not None and time.time() >= expiry:
            return self._reply(start_response, *_expired_token(service))
        account = self.account_for(access_key)
        operation = self._operation(service, environ, body)
        if access_key not in self._exempt_keys:
            self.stats.record(service, operation)
        if (f"{service}:{operation}" in self._denied_operations()
                and self._is_scanner(access_key, account)):
            return self._reply(start_response, *self._iam_denial(service, operation, region,
                                                                 account))
        if service == "access-analyzer":
            return self._reply(start_response, *self._access_analyzer_call(
                environ, body, region, operation, access_key, account))
        if service == "account" and operation == "ListRegions":
            return self._reply(start_response, *self._rest_json(
                self.account_service, environ, body, region, access_key, account))
        if service == "securityhub" and operation == "BatchImportFindings":
            refused = _security_hub_refusal(body, region, account)
            if refused:
                return self._reply(start_response, *refused)
        if service == "securityhub" and operation == "BatchUpdateFindings":
            return self._reply(start_response, *_security_hub_batch_update(body, region,
                                                                           account))
        if service == "ec2" and operation == "DescribeRegions":
            return self._reply(start_response, *self._describe_regions(body, environ))
        if service == "organizations":
            verdict = self._organizations_rule(account, operation)
            if verdict == "deny":
                return self._reply(start_response, *_protocol_error(
                    "organizations", "AccessDeniedException",
                    "You don't have permissions to access this resource.", 400))
            if verdict == "not-in-use":
                return self._reply(start_response, *_protocol_error(
                    "organizations", "AWSOrganizationsNotInUseException",
                    "Your account is not a member of an organization.", 400))
            if verdict == "as-management" and self._management_credentials:
                self._act_as_management(environ, access_key)
        if service == "sts" and access_key not in self._exempt_keys:
            throttled = self._sts_gate(operation)
            if throttled:
                return self._reply(start_response, *throttled)
        self._name_account(environ)
        if service == "sts" and operation == "AssumeRole":
            seconds = None
            if access_key not in self._exempt_keys:
                denial = self._assume_role_denial(body, account)
                if denial:
                    return self._reply(start_response, *_protocol_error("sts", "AccessDenied",
                                                                        denial, 403))
                seconds = self.scenario.session_seconds
            return self._assume_role(environ, start_response, seconds)
        return self._moto_app(environ, start_response)

    def _name_account(self, environ: dict[str, Any]) -> None:
        """Tell moto the caller's account (its `x-moto-account-id` header), which the world
        already knows: otherwise moto finds it by looking the access key up in every
        account's IAM, on every request (10,000 accounts: tens of ms a call, and a backend
        made for every account and partition on the way)."""
        match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if match:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.account_for(match.group(1))

    def _assume_role(self, environ: dict[str, Any], start_response: StartResponse,
                     seconds: int | None) -> list[bytes]:
        """moto's AssumeRole answer; the account of the access key it issues is remembered
        (so that a request signed with it is resolved in O(1), not by moto's walk over all
        accounts), and if `seconds` is given the credentials expire after it (the Expiration
        it states, and every request signed with them after it is refused)."""
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> Callable[..., None]:
            answer.update(status=status, headers=headers)
            return lambda _data: None

        body = b"".join(self._moto_app(environ, capture))
        key = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", body)
        issued_in = re.search(rb"<Arn>arn:aws[\w-]*:sts::(\d{12}):assumed-role/", body)
        if answer["status"].startswith("200") and key and issued_in:
            self._account_cache[key.group(1).decode()] = issued_in.group(1).decode()
        if answer["status"].startswith("200") and key and seconds is not None:
            deadline = int(time.time()) + seconds
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deadline))
            body = re.sub(rb"<Expiration>[^<]*</Expiration>",
                          f"<Expiration>{stamp}</Expiration>".encode(), body)
            self._expiry[key.group(1).decode()] = deadline
        headers = [(k, v) for k, v in answer["headers"] if k.lower() != "content-length"]
        start_response(answer["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _sts_gate(self, operation: str) -> tuple[int, dict[str, str], bytes] | None:
        """STS's latency and rate limit (scenario `sts:`), for the scanner's calls: the
        throttle AWS's STS answers, a Sender error with code Throttling (HTTP 400), which
        botocore's retry handler and aa-scan's rate limiter both read as a throttle."""
        gate = self.sts_gate
        self.stats.enter("sts", "global", operation)
        try:
            throttled = gate.throttled()
            delay = gate.delay()
            if delay:
                time.sleep(delay)
            if throttled:
                self.stats.count("throttles", "sts")
                return _protocol_error("sts", "Throttling", "Rate exceeded", 400)
            return None
        finally:
            self.stats.leave("global")

    @staticmethod
    def _body(environ: dict[str, Any]) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    def _operation(self, service: str, environ: dict[str, Any], body: bytes) -> str:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return str(target).rsplit(".", 1)[-1]
        if service in ("access-analyzer", "account"):
            rest = self.access_analyzer.protocol if service == "access-analyzer" \
                else self.account_service
            found = rest.route(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                               parse_query(environ.get("QUERY_STRING", "")))
            return found[0].name if found else "Unknown"
        if service == "s3":
            return _s3_operation(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                                 environ.get("QUERY_STRING", ""))
        if service == "securityhub":
            return _SECURITY_HUB_OPERATIONS.get(
                (environ["REQUEST_METHOD"], environ.get("PATH_INFO", "").rstrip("/")), "Unknown")
        form = parse_qs(body.decode("utf-8", "replace")) if body else {}
        query = parse_qs(environ.get("QUERY_STRING", ""))
        action = (form.get("Action") or query.get("Action") or ["Unknown"])[0]
        return action

    def _known_key(self, access_key: str) -> bool:
        """AWS rejects access keys it never issued; moto would map them to a default account."""
        if access_key in self._account_cache or access_key in self._exempt_keys:
            return True
        from moto.iam.models import iam_backends

        for backends in list(iam_backends.values()):
            if access_key in backends["aws"].access_keys:
                return True
        return False

    def _denied_operations(self) -> frozenset[str]:
        return self.scenario.deny_operations

    def _is_scanner(self, access_key: str, account: str) -> bool:
        """Whether the caller is the scanner's role (the principal deny_operations limits)."""
        if access_key in self._exempt_keys or account != self.scenario.scanner_account:
            return False
        if access_key == self.scanner_credentials.get("AccessKeyId"):
            return True
        from moto.iam.models import iam_backends

        key = iam_backends[account]["aws"].access_keys.get(access_key)
        role_arn = getattr(key, "role_arn", None) or ""
        return role_arn.rsplit("/", 1)[-1] == self.scenario.scanner_role

    def _iam_denial(self, service: str, operation: str, region: str, account: str
                    ) -> tuple[int, dict[str, str], bytes]:
        message = (f"User: {self.scanner_arn} is not authorized to perform: "
                   f"{service}:{operation} because no identity-based policy allows the "
                   f"{service}:{operation} action")
        code = {"sts": "AccessDenied", "iam": "AccessDenied", "ec2": "UnauthorizedOperation"
                }.get(service, "AccessDeniedException")
        return _protocol_error(service, code, message, 403)

    def _organizations_rule(self, account: str, operation: str) -> str:
        org = self.scenario.organization
        if org is not None and account == org.management.id:
            return "pass"
        if org is None or account not in {a.id for a in org.accounts}:
            return "pass" if operation in STANDALONE_ORGANIZATIONS_OPERATIONS else "not-in-use"
        if operation in MEMBER_ORGANIZATIONS_OPERATIONS:
            return "pass"
        if account in self.delegated_administrators() and operation.startswith(
                ("List", "Describe")):
            return "as-management"
        return "deny"

    def _act_as_management(self, environ: dict[str, Any], access_key: str) -> None:
        assert self._management_credentials is not None
        management_key = self._management_credentials["AccessKeyId"]
        environ["HTTP_AUTHORIZATION"] = environ["HTTP_AUTHORIZATION"].replace(
            f"Credential={access_key}/", f"Credential={management_key}/", 1)
        environ["HTTP_X_AMZ_SECURITY_TOKEN"] = self._management_credentials["SessionToken"]

    def _assume_role_denial(self, body: bytes, account: str) -> str | None:
        form = parse_qs(body.decode("utf-8", "replace"))
        role_arn = (form.get("RoleArn") or [""])[0]
        match = re.fullmatch(r"arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)", role_arn)
        if not match:
            return None  # moto reports the malformed ARN itself
        target_account, role_name = match.groups()
        from moto.iam.models import iam_backends

        roles = iam_backends[target_account]["aws"].roles.values()
        required = self._external_ids.get((target_account, role_name))
        given = next(iter(form.get("ExternalId") or ()), None)
        if any(r.name == role_name for r in roles) and required in (None, given):
            return None  # a wrong or missing external id fails the trust policy's condition
        principal = self.scanner_arn or f"arn:aws:iam::{account}:root"
        return (f"User: {principal} is not authorized to perform: sts:AssumeRole on resource: "
                f"{role_arn}")

    @staticmethod
    def _reply(start_response: StartResponse, status: int, headers: Mapping[str, str],
               body: bytes) -> list[bytes]:
        reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
                  429: "Too Many Requests", 500: "Internal Server Error",
                  501: "Not Implemented"}.get(status, "Status")
        start_response(f"{status} {reason}", [*headers.items(),
                                              ("Content-Length", str(len(body)))])
        return [body]

    def _rest_json(self, service: RestJsonService, environ: dict[str, Any], body: bytes,
                   region: str, access_key: str, account: str,
                   ) -> tuple[int, dict[str, str], bytes]:
        query = parse_query(environ.get("QUERY_STRING", ""))
        found = service.route(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), query)
        signing = service.model.signing_name or service.model.endpoint_prefix
        if found is None:
            return _protocol_error(signing, "UnknownOperationException",
                                   "The requested operation is not recognized.", 404)
        op, labels = found
        handler = service.handlers.get(op.name)
        if handler is None:
            return _protocol_error(signing, "NotImplementedException",
                                   f"{op.name} is not implemented by the simulator.", 501)
        try:
            headers = {k[5:].replace("_", "-"): v for k, v in environ.items()
                       if k.startswith("HTTP_")}
            params = service.parse(op, labels, query, headers, body)
            output = handler(Call(op.name, params, region, access_key, account))
            response = service.respond(op, output)
        except ServiceError as err:
            response = service.error(err)
        return response.status, response.headers, response.body

    def _access_analyzer_call(self, environ: dict[str, Any], body: bytes, region: str,
                              operation: str, access_key: str, account: str
                              ) -> tuple[int, dict[str, str], bytes]:
        gate = self.gates.get(region)
        self.stats.enter("access-analyzer", region, operation)
        try:
            if gate is None or gate.conditions.reject_credentials:
                return _invalid_token("access-analyzer")
            throttled = gate.throttled()
            if not throttled:
                self.stats.unthrottled(region)
            delay = gate.delay()
            if delay:
                time.sleep(delay)
            if gate.conditions.deny:
                self.stats.count("denials", region)
                principal = self.scanner_arn or f"arn:aws:iam::{account}:root"
                return _protocol_error("access-analyzer", "AccessDeniedException",
                                       DENY_MESSAGE.format(principal=principal,
                                                           operation=operation, region=region,
                                                           account=account), 403)
            if throttled:
                self.stats.count("throttles", region)
                status, headers, payload = _protocol_error(
                    "access-analyzer", "ThrottlingException", "Rate exceeded", 429)
                return status, {**headers, "Retry-After": "1"}, payload
            if gate.fault(operation):
                self.stats.count("faults", region)
                return _protocol_error("access-analyzer", "InternalServerException",
                                       "Internal Failure", 500)
            return self._rest_json(self.access_analyzer.protocol, environ, body, region,
                                   access_key, account)
        finally:
            self.stats.leave(region)

    def _list_regions(self, call: Call) -> dict[str, Any]:
        org = self.scenario.organization
        target = call.params.get("AccountId")
        if target is not None:
            admins = self.delegated_administrators()
            if org is None or call.account_id not in {org.management.id, *admins}:
                raise ServiceError("AccessDeniedException",
                                   "The caller may not access other accounts.")
            if target == org.management.id or target not in {a.id for a in org.accounts}:
                raise ServiceError("ValidationException",
                                   "The AccountId is not a member account of the organization.",
                                   reason="fieldValidationFailed")
        wanted = set(call.params.get("RegionOptStatusContains") or ())
        regions = [{"RegionName": region, "RegionOptStatus": status}
                   for region, status in self.scenario.regions.items()
                   if not wanted or status in wanted]
        size = min(call.params.get("MaxResults") or 50, 50)
        start = int(call.params.get("NextToken") or 0) if str(
            call.params.get("NextToken") or "0").isdigit() else 0
        page = regions[start:start + size]
        token = str(start + size) if start + size < len(regions) else None
        return {"Regions": page, "NextToken": token}

    def _describe_regions(self, body: bytes, environ: dict[str, Any]
                          ) -> tuple[int, dict[str, str], bytes]:
        form = parse_qs(body.decode("utf-8", "replace")) if body else parse_qs(
            environ.get("QUERY_STRING", ""))
        all_regions = (form.get("AllRegions") or ["false"])[0].lower() == "true"
        names = {v[0] for k, v in form.items() if k.startswith("RegionName.")}
        items = []
        for region, status in self.scenario.regions.items():
            enabled = status in ("ENABLED", "ENABLED_BY_DEFAULT")
            if (not enabled and not all_regions) or (names and region not in names):
                continue
            opt_in = EC2_OPT_IN.get(status, "not-opted-in")
            items.append(f"<item><regionName>{region}</regionName><regionEndpoint>"
                         f"ec2.{region}.amazonaws.com</regionEndpoint><optInStatus>{opt_in}"
                         "</optInStatus></item>")
        xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeRegionsResponse "
               "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
               f"<requestId>{uuid.uuid4()}</requestId><regionInfo>{''.join(items)}</regionInfo>"
               "</DescribeRegionsResponse>")
        return 200, {"Content-Type": "text/xml"}, xml.encode()

    def _admin(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_sim/stats":
            if environ["REQUEST_METHOD"] == "DELETE":
                self.stats.reset()
            payload = json.dumps(self.stats.snapshot()).encode()
            return self._reply(start_response, 200, {"Content-Type": "application/json"},
                               payload)
        if path == "/_sim/health":
            return self._reply(start_response, 200, {"Content-Type": "application/json"},
                               b'{"status":"ok"}')
        return self._reply(start_response, 404, {"Content-Type": "application/json"},
                           b'{"message":"not found"}')

