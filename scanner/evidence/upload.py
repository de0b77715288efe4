"""--upload s3://bucket/prefix/: the finished run folder, copied to S3 and checked.

The last step of a run. Every file of the pack (the artifacts the manifest names, the
manifest, the signature) goes to s3://bucket/prefix/<run id>/<file> (a re-render's under
<run id>/re-render-<its own id>/) with server-side encryption (SSE-KMS with the key given,
SSE-S3 otherwise) and the SHA-256 aa-scan computed from the file on disk: S3 refuses a body
that does not match it. Each request names the account that must own the bucket
(ExpectedBucketOwner: S3 refuses it for a bucket of anyone else, say one that was deleted
and re-created by another account), and a PutObject never replaces an object (IfNoneMatch:
an existing key is a failure, not an overwrite). Each object is then read back with
HeadObject: its size, its SHA-256 checksum, its encryption and, with SSE-KMS, its key must
be what was sent. Any failure stops the copy with one line saying how far it got; the local
folder is never touched.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from reports.document.pack import MANIFEST_NAME, SIGNATURE_NAME

from .manifest import EvidenceError, file_digest, read_manifest
from .signature import KEY_ARN

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client

# What a run id may be, to be a part of an S3 key (aa-scan's: 20261202T054715Z-0123456789ab).
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# Bucket names: 3-63 lowercase letters, digits, dots and hyphens (AWS's naming rules).
S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")
CONTENT_TYPES = {".json": "application/json", ".sig": "application/json",
                 ".html": "text/html; charset=utf-8",
                 ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class UploadError(EvidenceError):
    """The pack could not be copied to S3, or a copy is not what was sent."""


@dataclass(frozen=True)
class Destination:
    bucket: str
    prefix: str  # "" or ending with "/"

    def key(self, run: str, name: str) -> str:
        return f"{self.prefix}{run}/{name}"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def parse_destination(uri: str) -> Destination:
    """s3://bucket/prefix/ (the prefix is optional and is a folder either way)."""
    match = S3_URI.match(uri)
    if match is None:
        raise ValueError(f"{uri!r} is not an S3 location: expected s3://BUCKET/PREFIX/")
    prefix = (match.group("prefix") or "").strip("/")
    return Destination(match.group("bucket"), f"{prefix}/" if prefix else "")


def pack_files(directory: Path) -> tuple[str, dict[str, tuple[int, str] | None]]:
    """Where the pack goes under the prefix (its run id; a re-render's own place beneath
    it), and what is uploaded, in order: the manifest's artifacts with the size and SHA-256
    it records, then the manifest and, if any, the signature (None: nothing recorded). A
    file in the folder the manifest does not name is not part of the pack."""
    manifest, _ = read_manifest(directory)
    run_id = manifest.get("run_id")
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise UploadError(f"{directory / MANIFEST_NAME} records no run id to upload it under")
    place = run_id
    source = manifest.get("source")
    if source is not None and source["kind"] == "re-render":
        render = source.get("render")
        if render is None or not RUN_ID.match(render["id"]):
            raise UploadError(f"{directory / MANIFEST_NAME}: a re-render without its own id")
        place = f"{run_id}/re-render-{render['id']}"
    names: dict[str, tuple[int, str] | None] = {
        entry["path"]: (entry["bytes"], entry["sha256"]) for entry in manifest["artifacts"]}
    names[MANIFEST_NAME] = None
    if (directory / SIGNATURE_NAME).is_file():
        names[SIGNATURE_NAME] = None
    return place, names


def kms_key_arn(kms: KMSClient, key_id: str) -> str:
    """The ARN of the key SSE-KMS is asked for: S3 answers HeadObject with the key's ARN,
    whatever name it was given (kms:DescribeKey, unless it is an ARN already)."""
    if KEY_ARN.match(key_id):
        return key_id
    try:
        return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])
    except (ClientError, BotoCoreError, KeyError) as exc:
        raise UploadError(f"--upload-kms-key {key_id}: kms:DescribeKey failed: "
                          f"{_error(exc)}") from None


def _error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)
    return str(exc)


def upload_folder(s3: S3Client, directory: Path, destination: Destination, *,
                  bucket_owner: str, kms_key: str | None = None) -> list[str]:
    """Copy the pack to S3 and check every object; the URIs of the objects, in order.
    `bucket_owner`: the account that must own the bucket; `kms_key`: the ARN of the SSE-KMS
    key (None: SSE-S3)."""
    run, names = pack_files(directory)
    encryption = "aws:kms" if kms_key else "AES256"
    uploaded: list[str] = []

    def fail(name: str, why: str) -> UploadError:
        return UploadError(
            f"upload to {destination.uri(destination.key(run, name))} failed after "
            f"{len(uploaded)} of {len(names)} object(s): {why}; the local folder "
            f"{directory} is intact")

    for name, recorded in names.items():
        path = directory / name
        key = destination.key(run, name)
        try:
            size, sha = file_digest(path)
        except OSError as exc:
            raise fail(name, f"cannot read {name}: {_error(exc)}") from None
        if recorded is not None and recorded != (size, sha):
            raise fail(name, f"{name} changed after {MANIFEST_NAME} was written")
        checksum = base64.b64encode(bytes.fromhex(sha)).decode("ascii")
        extra: dict[str, Any] = {"ServerSideEncryption": encryption}
        if kms_key:
            extra["SSEKMSKeyId"] = kms_key
        try:
            with open(path, "rb") as body:
                s3.put_object(Bucket=destination.bucket, Key=key, Body=body,
                              ContentLength=size, ChecksumAlgorithm="SHA256",
                              ChecksumSHA256=checksum, ExpectedBucketOwner=bucket_owner,
                              IfNoneMatch="*",
                              ContentType=CONTENT_TYPES.get(path.suffix,
                                                            "application/octet-stream"),
                              **extra)
            head = s3.head_object(Bucket=destination.bucket, Key=key, ChecksumMode="ENABLED",
                                  ExpectedBucketOwner=bucket_owner)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise fail(name, "an object is already there, and aa-scan never replaces "
                           "one") from None
            raise fail(name, _error(exc)) from None
        except (BotoCoreError, OSError) as exc:
            raise fail(name, _error(exc)) from None
        problem = _mismatch(cast(dict[str, Any], head), size, checksum, encryption, kms_key)
        if problem is not None:
            raise fail(name, problem)
        uploaded.append(destination.uri(key))
    return uploaded


def _mismatch(head: dict[str, Any], size: int, checksum: str, encryption: str,
              kms_key: str | None = None) -> str | None:
    """Why the object S3 holds is not the one sent, or None."""
    if head.get("ContentLength") != size:
        return f"S3 holds {head.get('ContentLength')} bytes, {size} were sent"
    stored = head.get("ChecksumSHA256")
    if stored is None:
        return "S3 returned no SHA-256 checksum for the object"
    if str(stored).split("-")[0] != checksum:
        return f"S3's SHA-256 checksum {stored} is not {checksum}, the file's"
    if head.get("ServerSideEncryption") != encryption:
        return (f"the object is encrypted with {head.get('ServerSideEncryption')}, not "
                f"{encryption}")
    if kms_key is not None and head.get("SSEKMSKeyId") != kms_key:
        return f"the object is encrypted with KMS key {head.get('SSEKMSKeyId')}, not {kms_key}"
    return None
