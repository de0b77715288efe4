"""--history s3://BUCKET/KEY: the history of runs (SQLite) kept in S3, for scheduled runs with
no disk that outlives them (a Lambda function, a container task).

Beside scanner/history/ (which never talks to AWS): this module moves the database file, the
history reads and records it as it does a local one.

1. At the start, before anything is scanned, the object is downloaded into a private
   temporary folder and its ETag noted (no object: the first run). A download that fails
   (a bucket of another account, access denied) is a configuration error: nothing is
   scanned, and nothing is ever written over a history that could not be read.
2. The run reads and records the local copy exactly as a local history.
3. After the record, the copy is uploaded with a conditional write: If-Match on the ETag
   read (IfNoneMatch for the first run), server-side encryption, the account that must own
   the bucket (ExpectedBucketOwner) and the SHA-256 of the file (S3 refuses a body that does
   not match it). If another run wrote the object in between (412 Precondition Failed, or
   409 ConditionalRequestConflict for two writes at once), the object is fetched again, the
   run recorded again into it, and the upload retried, up to ATTEMPTS times: two
   overlapping runs are both kept, one after the other, never one lost.

A run that recorded nothing (the history could not be written: the reports say why) uploads
nothing. What the reports compared with is what the history held when the run started: a
run recorded by another while this one scanned is never its baseline, as with a local file.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from reports.document.rules import one_line

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("aa_scan")

ATTEMPTS = 5  # uploads tried, each after fetching and recording again
S3_HISTORY = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/"
                        r"(?P<key>[^\x00-\x1f\x7f]{1,1024})$")
_CONFLICTS = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412",
                        "409"})
_ABSENT = frozenset({"NoSuchKey", "404"})


class HistoryS3Error(Exception):
    """The history in S3 could not be read, or this run could not be written to it."""


def is_s3_history(value: str | os.PathLike[str] | None) -> bool:
    """Whether a --history value names S3 (anything starting 's3:', so a mistyped location
    is refused rather than taken for a folder named 's3:')."""
    return value is not None and str(value).startswith("s3:")


@dataclass(frozen=True)
class HistoryLocation:
    """Where the history lives in S3."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_history_location(uri: str) -> HistoryLocation:
    """s3://BUCKET/KEY (a key, not a folder), or ValueError saying what was expected."""
    match = S3_HISTORY.match(uri)
    if match is None or match.group("key").endswith("/"):
        raise ValueError(f"{one_line(uri)!r} is not an S3 object location: expected "
                         "s3://BUCKET/KEY, for example s3://aa-scan-evidence/history.sqlite")
    return HistoryLocation(match.group("bucket"), match.group("key"))


@dataclass(frozen=True)
class LocalCopy:
    """The history as downloaded: its file, the ETag S3 gave it (None: there was no object)
    and the SHA-256 of what was downloaded (None: nothing was)."""

    path: Path
    etag: str | None
    sha256: str | None


def _sha256(path: Path) -> str | None:
    if not path.exists():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get(
        "HTTPStatusCode", ""))


def _why(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"{_code(exc)}: {exc.response.get('Error', {}).get('Message') or exc}"
    return one_line(str(exc))


class S3History:
    """The history object of one run: fetched at the start, published after the record."""

    def __init__(self, s3: S3Client, location: HistoryLocation, *, bucket_owner: str,
                 kms_key: str | None = None) -> None:
        self.s3 = s3
        self.location = location
        self.bucket_owner = bucket_owner
        self.kms_key = kms_key
        self.folder = Path(tempfile.mkdtemp(prefix="aa-scan-history-"))  # 0700
        self.fetches = 0

    def close(self) -> None:
        """Remove the local copies."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def fetch(self) -> LocalCopy:
        """Download the history into a new private file (the first run: no file)."""
        self.fetches += 1
        path = self.folder / f"history-{self.fetches}.sqlite"
        try:
            answer = self.s3.get_object(Bucket=self.location.bucket, Key=self.location.key,
                                        ExpectedBucketOwner=self.bucket_owner,
                                        ChecksumMode="ENABLED")
        except ClientError as exc:
            if _code(exc) in _ABSENT:
                log.info("history: %s does not exist yet: this is its first run",
                         self.location.uri)
                return LocalCopy(path, None, None)
            hint = (" (without s3:ListBucket on the bucket, S3 answers AccessDenied for an "
                    "object that does not exist yet)" if _code(exc) == "AccessDenied" else "")
            raise HistoryS3Error(f"--history {self.location.uri}: cannot read it "
                                 f"(bucket owner {self.bucket_owner}): {_why(exc)}{hint}"
                                 ) from None
        except BotoCoreError as exc:
            raise HistoryS3Error(f"--history {self.location.uri}: cannot read it: "
                                 f"{_why(exc)}") from None
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            body = answer["Body"]
            while chunk := body.read(1 << 20):
                stream.write(chunk)
        etag = answer.get("ETag")
        log.info("history: read %s (%d bytes, ETag %s)", self.location.uri,
                 path.stat().st_size, etag)
        return LocalCopy(path, etag, _sha256(path))

    def publish(self, copy: LocalCopy, record: Callable[[Path], None]) -> int:
        """Upload the copy the run recorded into; on a conflict, fetch again, `record` into
        the fresh copy and retry. Returns the attempts it took (0: nothing was recorded, so
        nothing was uploaded); HistoryS3Error when the run could not be kept."""
        for attempt in range(1, ATTEMPTS + 1):
            if _sha256(copy.path) == copy.sha256:
                if attempt == 1:  # the record failed and said why, in the reports too
                    log.warning("history: nothing was recorded, so %s is left as it was",
                                self.location.uri)
                    return 0
                raise HistoryS3Error(f"--history {self.location.uri}: the run was not "
                                     "recorded: it could not be recorded again into the "
                                     "history another run had written meanwhile")
            _checkpoint(copy.path)
            try:
                self._put(copy)
                log.info("history: wrote %s (attempt %d)", self.location.uri, attempt)
                return attempt
            except ClientError as exc:
                if _code(exc) not in _CONFLICTS:
                    raise HistoryS3Error(f"--history {self.location.uri}: the run was not "
                                         f"recorded: {_why(exc)}") from None
                log.warning("history: %s was written by another run since it was read "
                            "(%s): reading it again to record this run into it (attempt %d "
                            "of %d)", self.location.uri, _code(exc), attempt, ATTEMPTS)
            except BotoCoreError as exc:
                raise HistoryS3Error(f"--history {self.location.uri}: the run was not "
                                     f"recorded: {_why(exc)}") from None
            copy = self.fetch()
            record(copy.path)
        raise HistoryS3Error(f"--history {self.location.uri}: the run was not recorded: "
                             f"another run wrote the history before each of {ATTEMPTS} "
                             "attempts")

    def _put(self, copy: LocalCopy) -> None:
        """One conditional write of the copy."""
        sha = _sha256(copy.path)
        assert sha is not None
        extra: dict[str, Any] = ({"IfMatch": copy.etag} if copy.etag is not None
                                 else {"IfNoneMatch": "*"})
        if self.kms_key:
            extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key)
        else:
            extra["ServerSideEncryption"] = "AES256"
        with open(copy.path, "rb") as body:
            self.s3.put_object(Bucket=self.location.bucket, Key=self.location.key, Body=body,
                               ContentLength=copy.path.stat().st_size,
                               ContentType="application/vnd.sqlite3",
                               ChecksumAlgorithm="SHA256",
                               ChecksumSHA256=base64.b64encode(bytes.fromhex(sha)).decode(),
                               ExpectedBucketOwner=self.bucket_owner, **extra)


def _checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the database file, the one file uploaded (SQLite does
    it when the last connection closes; this makes sure of it)."""
    try:
        database = sqlite3.connect(path)
        try:
            database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            database.close()
    except sqlite3.Error as exc:
        raise HistoryS3Error(f"the history {path} could not be checkpointed: {exc}") from None
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size:
        raise HistoryS3Error(f"the history's write-ahead log {wal} could not be folded into "
                             "it")
