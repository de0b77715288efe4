"""Sessions, role assumption and clients: the only place that configures boto3.

Clients are created on the main thread, once per (service, region), and shared by the worker
threads (botocore clients are thread-safe; sessions are not). Each client carries the retry
mode, the timeouts and a connection pool sized to the workers. The response parser gets a
fast ISO-8601 timestamp parser: botocore's default goes through dateutil, 7.7 s for the
300,000 timestamps of 100,000 findings against 0.44 s. And a ListFindings page, the bulk of
a scan, skips botocore's walk of the response model altogether (`raw_findings_pages`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    Credentials,
    ReadOnlyCredentials,
    RefreshableCredentials,
)
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound
from botocore.utils import parse_timestamp

from reports.document.rules import utc_text as document_time

from . import __version__
from .config import AwsOptions, Options
from .errors import ConfigError, CredentialsError
from .logs import REDACTOR
from .model import ApiError
from .ratelimit import MAX_CONCURRENCY, RateLimiter, attach

if TYPE_CHECKING:  # typed clients (boto3-stubs, a development dependency)
    from mypy_boto3_accessanalyzer import AccessAnalyzerClient
    from mypy_boto3_account import AccountClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sts import STSClient

T = TypeVar("T")
log = logging.getLogger("aa_scan")

_ISO = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$")


def _plain_utc(value: str) -> bool:
    """'YYYY-MM-DDTHH:MM:SSZ' or 'YYYY-MM-DDTHH:MM:SS.fffZ': the shapes AWS sends."""
    size = len(value)
    return ((size == 20 or (size == 24 and value[19] == ".")) and value[-1] == "Z"
            and value[10] == "T" and value[4] == value[7] == "-"
            and value[13] == value[16] == ":")


def utc_text(value: Any) -> str | None:
    """A timestamp as scan.json writes it (reports.document.rules.utc_text), from the text
    the service sent or a datetime; None stays None.

    The usual text is already that but for the milliseconds: it is checked (an impossible
    date raises, as parsing it would) and cut, never parsed into a datetime and formatted
    back: 300,000 times a scan of 100,000 findings.
    """
    if value is None:
        return None
    if isinstance(value, str) and _plain_utc(value):
        dt.datetime.fromisoformat(value)  # a check: ValueError for an impossible date
        return value[:19] + "Z"
    return document_time(value if isinstance(value, dt.datetime) else fast_timestamp(value))


def fast_timestamp(value: Any) -> dt.datetime:
    """Parse AWS timestamps (ISO 8601 as Access Analyzer sends them) without dateutil."""
    if isinstance(value, str):
        if _plain_utc(value):  # the C parser, and the result is already UTC
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                pass
        match = _ISO.match(value)
        if match:
            year, month, day, hour, minute, second, fraction, zone = match.groups()
            micro = int((fraction or "0")[:6].ljust(6, "0"))
            tz = dt.UTC
            if zone and zone != "Z":
                sign = 1 if zone[0] == "+" else -1
                digits = zone[1:].replace(":", "")
                tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]),
                                                     minutes=int(digits[2:])))
            with suppress(ValueError):  # an impossible date: botocore's parser decides
                return dt.datetime(int(year), int(month), int(day), int(hour), int(minute),
                                   int(second), micro, tzinfo=tz).astimezone(dt.UTC)
    parsed: dt.datetime = parse_timestamp(value)
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# Operations whose successful answer is taken as the service's JSON (see raw_findings_pages).
RAW_OPERATIONS = ("ListFindings",)


def raw_findings_pages(response_dict: dict[str, Any], customized_response_dict: dict[str, Any],
                       operation_model: Any, **_: Any) -> None:
    """botocore's before-parse event, for a successful ListFindings page: decode its JSON
    here and hand botocore an empty body.

    botocore walks every value of a response through its model, a Python call per value:
    for ListFindings pages that was most of a scan's CPU (3.6 s of 13.4 for 80,000 findings,
    plus 2.7 s in the timestamp parser it calls). That output is plain JSON with no renamed
    members, headers, blobs or unions, so its top-level members are taken as decoded (nulls
    dropped there as botocore drops them; inside a finding a null stays, which the collector
    reads as it reads a missing member), and timestamps stay the ISO 8601 text the service sent
    (scanner.collect.findings reads them with utc_text). botocore merges what this handler
    puts in `customized_response_dict` into the parsed response: public event API, no
    parser internals. Errors and every other output take botocore's own path.
    """
    if response_dict.get("status_code") != 200:
        return
    try:
        body = json.loads(response_dict["body"])
    except (ValueError, TypeError):
        return  # botocore's parser says what is wrong with it
    if not isinstance(body, dict):
        return
    members = operation_model.output_shape.members
    customized_response_dict.update((k, v) for k, v in body.items()
                                    if v is not None and k in members)
    response_dict["body"] = b"{}"


@cache
def _loader(data_path: str | None) -> Any:
    """botocore's loader of service models and endpoints, one per process: a new session
    otherwise re-reads and re-parses them (about 0.2 s a session, twice when a role is
    assumed, and once per run for every run a process makes)."""
    return botocore.loaders.create_loader(data_path)


def _botocore_session(profile: str | None) -> botocore.session.Session:
    session = botocore.session.Session(profile=profile)
    session.register_component("data_loader", _loader(session.get_config_variable("data_path")))
    session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=fast_timestamp)
    session.user_agent_extra = f"aa-scan/{__version__}"
    return session


class CallCounter:
    """Logical API calls per operation name, for the scan document and the manifest (the
    query the evidence answers). Counted on botocore's before-call event, which fires once
    per call: the retries of a throttled call are attempts of the same call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # worker threads call concurrently
        self._counts: Counter[str] = Counter()

    def attach(self, session: boto3.Session) -> None:
        """Count the calls of every client created from `session` from now on (a client
        copies the session's handlers when it is created)."""
        session.events.register("before-call", self._count)

    def _count(self, model: Any = None, **_: Any) -> None:
        name = getattr(model, "name", None)
        if name:
            with self._lock:
                self._counts[str(name)] += 1

    def snapshot(self) -> dict[str, int]:
        """The calls counted so far, per operation name."""
        with self._lock:
            return dict(sorted(self._counts.items()))


def make_session(options: Options, calls: CallCounter | None = None) -> boto3.Session:
    """The session the scan runs with: profile, then the role to assume, if any. `calls`
    counts every call made through it (sts:AssumeRole included)."""
    aws = options.aws
    try:
        session = boto3.Session(botocore_session=_botocore_session(aws.profile),
                                region_name=aws.home_region)
        if calls is not None:
            calls.attach(session)
        if session.get_credentials() is None:
            raise CredentialsError(
                "no AWS credentials found: set AWS_PROFILE or --profile, or the "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment variables, or run on a "
                "host with an instance role")
    except ProfileNotFound:
        raise CredentialsError(f"the AWS profile {aws.profile!r} was not found in the AWS "
                               "config or credentials files") from None
    except BotoCoreError as exc:
        raise CredentialsError(f"cannot load AWS credentials: {exc}") from None
    _redact(session)
    if not aws.role_arn:
        return session
    try:
        return assume_role_session(session, aws.role_arn, options, calls)
    except ClientError as exc:
        code, message = error_from(exc)
        hint = ""
        if aws.source_identity and aws.run_id and code == "AccessDenied":
            hint = (" (aa-scan sets SourceIdentity on its role sessions: the role's trust policy "
                    "must also allow sts:SetSourceIdentity, or set aws.source_identity: false)")
        raise CredentialsError(
            f"cannot assume role {aws.role_arn}: {code}: {message}".rstrip(": ") + hint
        ) from None
    except NoCredentialsError:
        raise CredentialsError("no AWS credentials found to assume the role with") from None
    except BotoCoreError as exc:
        raise CredentialsError(f"cannot assume role {aws.role_arn}: {exc}") from None


class _GivenCredentialsProvider(CredentialProvider):
    """Hands botocore the credentials it is given: the refreshing credentials of an assumed
    role (botocore's own AssumeRoleProvider reads its role from a profile), or the member
    view's ActingCredentials."""

    METHOD = "assume-role"
    CANONICAL_NAME = "aa-scan-assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def session_name(aws: AwsOptions) -> str:
    """<role_session_name>-<run id>, within STS's 64 characters."""
    if not aws.run_id:
        return aws.role_session_name
    return f"{aws.role_session_name}-{aws.run_id}"[:64]


def source_identity(run_id: str) -> str:
    """The SourceIdentity of every role session of a run: CloudTrail records it on each call
    made with the session and with any session chained from it."""
    return f"aa-scan-{run_id}"[:64]


def role_credentials(sts: STSClient, role_arn: str, options: Options,
                     duration_seconds: int | None = None) -> RefreshableCredentials:
    """The role's credentials, assumed now through `sts` (with `--external-id` when one is
    set), as botocore's RefreshableCredentials: assumed again with the same request before
    they expire (from 15 minutes before, and always from 10 minutes before), so a scan that
    lasts longer than a role session does not fail halfway. Raises ClientError or
    BotoCoreError when the role cannot be assumed."""
    aws = options.aws
    request: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name(aws)}
    if aws.source_identity and aws.run_id:
        request["SourceIdentity"] = source_identity(aws.run_id)
    if aws.external_id:
        request["ExternalId"] = aws.external_id
    if duration_seconds is not None:
        request["DurationSeconds"] = duration_seconds

    def fetch() -> dict[str, Any]:
        credentials = sts.assume_role(**request)["Credentials"]
        REDACTOR.add(credentials["AccessKeyId"], credentials["SecretAccessKey"],
                     credentials["SessionToken"])
        log.debug("assumed %s (credentials valid until %s)", role_arn,
                  credentials["Expiration"])
        return {"access_key": credentials["AccessKeyId"],
                "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"],
                "expiry_time": credentials["Expiration"].isoformat()}

    return RefreshableCredentials.create_from_metadata(fetch(), fetch, "assume-role")


def _session_with(credentials: Credentials, region_name: str | None,
                  calls: CallCounter | None) -> boto3.Session:
    core = _botocore_session(None)
    core.register_component("credential_provider",
                            CredentialResolver([_GivenCredentialsProvider(credentials)]))
    session = boto3.Session(botocore_session=core, region_name=region_name)
    if calls is not None:
        calls.attach(session)
    return session


def assume_role_session(source: boto3.Session, role_arn: str, options: Options,
                        calls: CallCounter | None = None,
                        duration_seconds: int | None = None) -> boto3.Session:
    """A session in the role's account, assumed from `source` (which may itself be an
    assumed role: role chaining), its credentials refreshed before they expire (see
    `role_credentials`). The first assumption happens here: a ClientError or BotoCoreError
    means the role cannot be used."""
    sts = source.client("sts", region_name=home_region(source, options),
                        config=client_config(options, 2))
    refreshable = role_credentials(sts, role_arn, options, duration_seconds)
    return _session_with(refreshable, source.region_name or options.aws.home_region, calls)


class ActingCredentials(Credentials):
    """The credentials of whichever account the calling thread acts for (`acting_as`).

    The member view reads one ListAnalyzers per account and region: 17,000 calls for 1,000
    accounts in 17 regions. A client per (account, region) would cost 17,000 client
    creations (5 ms each here) and a botocore session per account (20 ms), about 105 s of
    one core for 1,000 accounts, longer than the API's own limits allow the whole view. So
    one client per region serves every account: botocore signs each request with its
    client's credentials object, asking it for frozen credentials on the thread that makes
    the call (and its retries), and this object answers with the account's own credentials,
    refreshed as that account's RefreshableCredentials refresh. A call outside `acting_as`
    has no credentials to sign with and fails, never signed as another account.
    """

    def __init__(self) -> None:  # no keys of its own: see the properties
        self.method = "aa-scan-acting"
        self._local = threading.local()

    def _current(self) -> Credentials:
        credentials: Credentials | None = getattr(self._local, "credentials", None)
        if credentials is None:
            raise NoCredentialsError()
        return credentials

    @contextmanager
    def acting_as(self, credentials: Credentials) -> Iterator[None]:
        """Calls made by this thread inside the block are signed with `credentials`."""
        before = getattr(self._local, "credentials", None)
        self._local.credentials = credentials
        try:
            yield
        finally:
            self._local.credentials = before

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        """The current thread's account's credentials, as botocore signs with them."""
        return self._current().get_frozen_credentials()

    @property
    def access_key(self) -> str:  # type: ignore[override]
        """The current thread's account's access key."""
        return str(self._current().get_frozen_credentials().access_key)

    @property
    def secret_key(self) -> str:  # type: ignore[override]
        """The current thread's account's secret key."""
        return str(self._current().get_frozen_credentials().secret_key)

    @property
    def token(self) -> str | None:  # type: ignore[override]
        """The current thread's account's session token."""
        return self._current().get_frozen_credentials().token

    @property
    def account_id(self) -> str | None:
        """None: the account changes from call to call."""
        return None


def _redact(session: boto3.Session) -> None:
    """Whatever credentials the session resolved never appear in a log line."""
    credentials = session.get_credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        REDACTOR.add(frozen.access_key, frozen.secret_key, frozen.token)


def home_region(session: boto3.Session, options: Options) -> str:
    """Where global calls (STS, Organizations, Account, EC2 region list) are sent."""
    return options.aws.home_region or session.region_name or "us-east-1"


def client_config(options: Options, pool_size: int) -> Config:
    """Retries, timeouts and a connection pool of `pool_size`, as the options say."""
    mode: Any = options.aws.retry_mode  # one of botocore's modes: the configuration checked it
    return Config(
        retries={"mode": mode, "total_max_attempts": options.aws.max_attempts},
        connect_timeout=options.aws.connect_timeout,
        read_timeout=options.aws.read_timeout,
        max_pool_connections=max(2, pool_size),
        user_agent_extra=f"aa-scan/{__version__}",
    )


class ClientFactory:
    """Creates clients on the calling (main) thread; the scan shares them across threads."""

    def __init__(self, session: boto3.Session, options: Options,
                 calls: CallCounter | None = None) -> None:
        self.session = session
        self.options = options
        self.calls = calls
        self.home_region = home_region(session, options)
        try:
            self.partition = session.get_partition_for_region(self.home_region)
        except BotoCoreError:
            raise ConfigError(
                f"the AWS region {self.home_region!r} (from --home-region, the profile or "
                "AWS_DEFAULT_REGION) is not a region botocore knows; set --home-region"
            ) from None
        self._global_config = client_config(options, 4)
        # A region's client (or STS's, for the member view) has at most this many calls in
        # flight: the driver's lanes (scanner.run) hold each region to its limiter's.
        self._regional_config = client_config(options, min(options.workers or MAX_CONCURRENCY,
                                                           MAX_CONCURRENCY))
        self._rate_limit = options.aws.rate_limit
        self._max_attempts = options.aws.max_attempts
        self.limiters: dict[str, RateLimiter] = {}

    def assume(self, role_arn: str) -> ClientFactory:
        """The clients of another account, through a role assumed from this one's session
        (refreshed before it expires; `--external-id` applies). Raises ClientError or
        BotoCoreError when the role cannot be assumed."""
        return ClientFactory(assume_role_session(self.session, role_arn, self.options,
                                                 self.calls), self.options, self.calls)

    def sts(self) -> STSClient:
        """An STS client in the home region."""
        return self.session.client("sts", region_name=self.home_region,
                                   config=self._global_config)

    def paced_sts(self) -> STSClient:
        """An STS client for many concurrent AssumeRole calls (the member view's): paced by
        a limiter of its own that learns STS's rate from its throttles, with a connection
        per worker."""
        client = self.session.client("sts", region_name=self.home_region,
                                     config=self._regional_config)
        if self._rate_limit is not None:
            learn = self._rate_limit == "auto"
            limiter = RateLimiter(10.0 if learn else float(self._rate_limit), learn=learn)
            self.limiters["sts"] = limiter
            attach(client, limiter, self._max_attempts)
        return client

    def acting(self, credentials: ActingCredentials) -> ClientFactory:
        """Clients signed with `credentials` (the member view's, one per region for every
        account), paced by the same per-region limiters as this factory's own clients:
        the limits are the region's."""
        factory = ClientFactory(_session_with(credentials, self.session.region_name,
                                              self.calls), self.options, self.calls)
        factory.limiters = self.limiters
        return factory

    def organizations(self) -> OrganizationsClient:
        """An Organizations client in the home region."""
        return self.session.client("organizations", region_name=self.home_region,
                                   config=self._global_config)

    def account(self) -> AccountClient:
        """An Account client (ListRegions) in the home region."""
        return self.session.client("account", region_name=self.home_region,
                                   config=self._global_config)

    def ec2(self) -> EC2Client:
        """An EC2 client (DescribeRegions) in the home region."""
        return self.session.client("ec2", region_name=self.home_region,
                                   config=self._global_config)

    def accessanalyzer(self, region: str) -> AccessAnalyzerClient:
        """A client for one region, paced by that region's own rate limiter, its findings
        pages decoded without botocore's model walk."""
        client = self.session.client("accessanalyzer", region_name=region,
                                     config=self._regional_config)
        service = client.meta.service_model.service_id.hyphenize()
        for operation in RAW_OPERATIONS:
            client.meta.events.register(f"before-parse.{service}.{operation}",
                                        raw_findings_pages)
        if self._rate_limit is not None:
            limiter = self.limiters.get(region)
            if limiter is None:
                learn = self._rate_limit == "auto"
                limiter = RateLimiter(10.0 if learn else float(self._rate_limit), learn=learn)
                self.limiters[region] = limiter
            attach(client, limiter, self._max_attempts)
        return client


def sns_client(session: boto3.Session, options: Options, topic_arn: str) -> SNSClient:
    """A client for the topic's own region (the fourth field of its ARN)."""
    region = topic_arn.split(":")[3]
    return session.client("sns", region_name=region, config=client_config(options, 2))


def kms_client(session: boto3.Session, options: Options, key_id: str) -> KMSClient:
    """A client for the key's region: the fourth field of a key or alias ARN, else the home
    region (a key id or alias name is looked up there)."""
    region = key_id.split(":")[3] if key_id.startswith("arn:") else home_region(session,
                                                                                  options)
    return session.client("kms", region_name=region, config=client_config(options, 2))


def s3_client(session: boto3.Session, options: Options) -> S3Client:
    """A client for the upload; S3 redirects it to the bucket's own region if need be."""
    return session.client("s3", region_name=home_region(session, options),
                          config=client_config(options, 2))


def error_from(exc: Exception) -> tuple[str, str]:
    """(code, message) of a botocore failure, for the model's ApiError."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return str(error.get("Code") or "ClientError"), str(error.get("Message") or exc)
    return type(exc).__name__, str(exc)


def attempt(operation: str, call: Callable[[], T]) -> T | ApiError:
    """Make one AWS call; a botocore failure comes back as an ApiError value (failures are
    data: the judge decides what they mean). `operation` is "service:Operation"."""
    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        return ApiError(*error_from(exc), operation)
