"""manifest.json.sig: an AWS KMS signature of a statement about the manifest, checkable
offline years later.

What KMS signs is a small statement, a JSON text with sorted keys and no spaces:

    {"key_arn":"arn:aws:kms:…","manifest_sha256":"…","run_id":"…",
     "signed_at":"2026-12-02T05:48:01Z","statement":"aa-scan evidence pack"}

so none of the manifest's SHA-256, the key, the signing time or the run can be changed after
signing. It is sent as a RAW message (KMS hashes it with SHA-256 and signs that:
ECDSA_SHA_256 for an ECC_NIST_P256 key, RSASSA_PSS_SHA_256 for an RSA key). The file holds
the statement's exact text, the algorithm, the signature and the key's public key (PEM):
with it a signature can be checked without AWS, but the public key in the file is only the
signer's claim. Who signed is proved only by a key the verifier holds from elsewhere (the
PEM of `aws kms get-public-key`) or by kms:Verify asked about a key ARN the verifier names:
evidence.verify never takes the pack's word for it.

Version 1 files (before the statement) signed the manifest's SHA-256 alone; they are still
read, and said to bind the manifest only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from botocore.exceptions import BotoCoreError, ClientError

from reports.document.pack import MANIFEST_NAME, SIGNATURE_NAME
from reports.document.rules import utc_text
from reports.files import write_bytes_atomic

from .files import load_json
from .manifest import EvidenceError, ManifestSigning, read_manifest

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
    from mypy_boto3_kms import KMSClient

# A KMS key ARN (its region says where to ask about it). An alias is no pin: it can be
# pointed at another key.
KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:[a-z]{2,}(-[a-z]+)+-\d{1,2}:\d{12}:key/[A-Za-z0-9-]{1,128}$"
)
SIGNATURE_VERSION = 2
STATEMENT = "aa-scan evidence pack"
MESSAGE = (
    "statement, the exact text signed as a RAW message (KMS hashes it with SHA-256 and signs "
    "that): json.dumps({statement, run_id, manifest_sha256, key_arn, signed_at}, "
    'sort_keys=True, separators=(",", ":"))'
)
# KMS signs RAW messages of at most 4 KB; aa-scan's statements are a few hundred bytes.
STATEMENT_LIMIT = 4096
ECDSA = "ECDSA_SHA_256"
RSA_PSS = "RSASSA_PSS_SHA_256"


class SigningError(EvidenceError):
    """The manifest could not be signed (KMS refused, or the key cannot sign)."""


class Statement(TypedDict):
    """What a signature (version 2) says, all of it signed."""

    statement: str
    run_id: str
    manifest_sha256: str
    key_arn: str
    signed_at: str


class SignatureFile(TypedDict):
    """manifest.json.sig: the statement KMS signed, the signature and the public key."""

    signature_version: int
    file: str
    statement: str  # the exact text signed
    message: str
    message_type: str
    key_spec: str
    algorithm: str
    signature: str  # base64
    public_key_pem: str


@dataclass(frozen=True)
class Signed:
    """A signature file as read: what was signed (`message`), what it says, and whether
    what it says is part of what was signed (`bound`: version 2; a version 1 file signed
    the manifest's SHA-256 only, its key ARN and time are unsigned claims)."""

    version: int
    message: bytes
    manifest_sha256: str
    run_id: str | None
    key_arn: str
    signed_at: str
    algorithm: str
    signature: bytes
    public_key_pem: str
    bound: bool


@dataclass(frozen=True)
class Signer:
    """The KMS key a run signs with, looked up (kms:GetPublicKey) before anything is
    scanned: a key that cannot sign is refused at once, and the manifest records the key it
    will be signed with."""

    key_id: str  # as configured (a key id, ARN, alias name or alias ARN)
    key_arn: str  # KMS's answer: the key's ARN
    key_spec: str
    algorithm: str
    public_key_pem: str

    def record(self) -> ManifestSigning:
        """What manifest.json says about the signature to come."""
        return {
            "key_arn": self.key_arn,
            "key_spec": self.key_spec,
            "algorithm": self.algorithm,
            "public_key_sha256": public_key_fingerprint(self.public_key_pem) or "",
        }


def algorithm_for(key_spec: str) -> str | None:
    """The signing algorithm for a key spec, or None for a key this does not sign with."""
    if key_spec == "ECC_NIST_P256":
        return ECDSA
    if key_spec.startswith("RSA_"):
        return RSA_PSS
    return None


def pem(der: bytes) -> str:
    """A SubjectPublicKeyInfo in PEM, the form openssl reads."""
    body = textwrap.fill(base64.b64encode(der).decode("ascii"), 64)
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def statement_text(statement: Statement) -> str:
    """The one text of a statement that is signed and stored."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _aws_error(action: str, key_id: str, exc: Exception) -> SigningError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return SigningError(
            f"{action} with KMS key {key_id} failed: {error.get('Code')}: {error.get('Message')}"
        )
    return SigningError(f"{action} with KMS key {key_id} failed: {exc}")


def now_utc() -> str:
    """Now, as the pack writes time (reports.document.rules.utc_text)."""
    return utc_text(dt.datetime.now(dt.UTC))


def resolve_signer(kms: KMSClient, key_id: str) -> Signer:
    """The key behind `key_id`, checked able to sign (kms:GetPublicKey)."""
    try:
        public = kms.get_public_key(KeyId=key_id)
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error("kms:GetPublicKey", key_id, exc) from None
    # KeySpec since 2021; moto, and older answers, only carry CustomerMasterKeySpec.
    spec = str(public.get("KeySpec") or public.get("CustomerMasterKeySpec") or "unknown")
    usage = public.get("KeyUsage")
    if usage != "SIGN_VERIFY":
        raise SigningError(
            f"KMS key {key_id} cannot sign (key spec {spec}, key usage "
            f"{usage or 'not given'}): use an asymmetric key with key usage "
            "SIGN_VERIFY (ECC_NIST_P256 or RSA)"
        )
    algorithm = algorithm_for(spec)
    offered = public.get("SigningAlgorithms") or []
    if algorithm is None or (offered and algorithm not in offered):
        raise SigningError(
            f"KMS key {key_id} is a {spec} key: use an ECC_NIST_P256 key "
            f"({ECDSA}) or an RSA key ({RSA_PSS})"
        )
    return Signer(
        key_id,
        _key_arn(kms, key_id, str(public.get("KeyId") or "")),
        spec,
        algorithm,
        pem(public["PublicKey"]),
    )


def _key_arn(kms: KMSClient, key_id: str, answered: str) -> str:
    """The key's ARN: GetPublicKey's KeyId (AWS answers the ARN), else the ARN the key was
    given by, else kms:DescribeKey's (a key id or an alias given to a KMS that answers
    with the key id, as moto does)."""
    for candidate in (answered, key_id):
        if KEY_ARN.match(candidate):
            return candidate
    try:
        return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])
    except (ClientError, BotoCoreError, KeyError) as exc:
        raise _aws_error("kms:DescribeKey", key_id, exc) from None


def sign_pack(kms: KMSClient, signer: Signer, directory: Path) -> tuple[Path, SignatureFile]:
    """Sign the statement about directory/manifest.json with the signer's key and write
    manifest.json.sig beside it."""
    try:
        manifest, data = read_manifest(directory)
    except EvidenceError as exc:
        raise SigningError(f"cannot sign: {exc}") from None
    run_id = manifest.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise SigningError(f"cannot sign {directory / MANIFEST_NAME}: it records no run id")
    statement: Statement = {
        "statement": STATEMENT,
        "run_id": run_id,
        "manifest_sha256": hashlib.sha256(data).hexdigest(),
        "key_arn": signer.key_arn,
        "signed_at": now_utc(),
    }
    text = statement_text(statement)
    try:
        # The key's ARN, not the name it was given: an alias could point elsewhere by now.
        signed = kms.sign(
            KeyId=signer.key_arn,
            Message=text.encode("ascii"),
            MessageType="RAW",
            SigningAlgorithm=cast(Any, signer.algorithm),
        )
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error("kms:Sign", signer.key_id, exc) from None
    record: SignatureFile = {
        "signature_version": SIGNATURE_VERSION,
        "file": MANIFEST_NAME,
        "statement": text,
        "message": MESSAGE,
        "message_type": "RAW",
        "key_spec": signer.key_spec,
        "algorithm": signer.algorithm,
        "signature": base64.b64encode(signed["Signature"]).decode("ascii"),
        "public_key_pem": signer.public_key_pem,
    }
    # A signature that does not verify with the key's own public key would only be found
    # out by an auditor, years later: check it now.
    read = parse_signature(json.dumps(record).encode("ascii"))
    key = load_public_key(signer.public_key_pem)
    problem = "not readable" if read is None or key is None else check_with_key(read, key)
    if problem is not None:
        raise SigningError(
            f"the signature KMS returned for key {signer.key_id} does not verify: {problem}"
        )
    body = json.dumps(record, indent=2, ensure_ascii=True) + "\n"
    try:
        path = write_bytes_atomic(directory / SIGNATURE_NAME, body.encode("ascii"))
    except OSError as exc:
        raise SigningError(
            f"cannot write {directory / SIGNATURE_NAME}: {exc.strerror or exc}"
        ) from None
    return path, record


# -- checking one ---------------------------------------------------------------------------


def _strings(loaded: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return all(isinstance(loaded.get(k), str) for k in keys)


def _decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


# What a statement's manifest_sha256 is: never text a report line would print as it is.
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def parse_signature(data: bytes) -> Signed | None:
    """The signature file, or None when it is not one aa-scan wrote (tampered, foreign)."""
    try:
        loaded = load_json(data)
    except ValueError:
        return None
    if not isinstance(loaded, dict) or loaded.get("algorithm") not in (ECDSA, RSA_PSS):
        return None
    version = loaded.get("signature_version")
    common = ("algorithm", "signature", "public_key_pem")
    if version == 1 and _strings(loaded, (*common, "manifest_sha256", "key_arn", "signed_at")):
        signature = _decode(loaded["signature"])
        try:
            digest = bytes.fromhex(loaded["manifest_sha256"])
        except ValueError:
            return None
        if signature is None or len(digest) != 32:
            return None
        return Signed(
            1, digest, loaded["manifest_sha256"], None, loaded["key_arn"],
            loaded["signed_at"], loaded["algorithm"], signature, loaded["public_key_pem"],
            bound=False,
        )  # fmt: skip
    if version != SIGNATURE_VERSION or not _strings(loaded, (*common, "statement")):
        return None
    signature = _decode(loaded["signature"])
    text = loaded["statement"]
    if len(text) > STATEMENT_LIMIT:
        return None
    try:
        message = text.encode("ascii")
        statement = load_json(message)
    except (UnicodeEncodeError, ValueError):
        return None
    keys = ("statement", "run_id", "manifest_sha256", "key_arn", "signed_at")
    if (
        signature is None
        or not isinstance(statement, dict)
        or set(statement) != set(keys)
        or not _strings(statement, keys)
        or statement["statement"] != STATEMENT
        or not SHA256_HEX.fullmatch(statement["manifest_sha256"])
        # One text, one reading: no duplicate keys, spaces or escapes another parser might
        # read otherwise.
        or statement_text(cast(Statement, statement)) != text
    ):
        return None
    return Signed(
        SIGNATURE_VERSION, message, statement["manifest_sha256"], statement["run_id"],
        statement["key_arn"], statement["signed_at"], loaded["algorithm"], signature,
        loaded["public_key_pem"], bound=True,
    )  # fmt: skip


def load_public_key(pem_text: str) -> PublicKeyTypes | None:
    """A PEM public key, or None when the text is not one."""
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_public_key(pem_text.encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError):
        return None


def public_key_der(pem_text: str) -> bytes | None:
    """The DER of a PEM public key (to compare keys whatever their line wrapping)."""
    from cryptography.hazmat.primitives import serialization

    key = load_public_key(pem_text)
    if key is None:
        return None
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_fingerprint(pem_text: str) -> str | None:
    """SHA-256 of the key's DER (SubjectPublicKeyInfo), as the manifest records it."""
    der = public_key_der(pem_text)
    return hashlib.sha256(der).hexdigest() if der is not None else None


def check_with_key(signed: Signed, key: PublicKeyTypes) -> str | None:
    """None when the signature verifies for its message with `key`; otherwise why not."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        if signed.algorithm == ECDSA and isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(key.curve, ec.SECP256R1):
                return f"the public key is on {key.curve.name}, not P-256"
            key.verify(signed.signature, signed.message, ec.ECDSA(hashes.SHA256()))
        elif signed.algorithm == RSA_PSS and isinstance(key, rsa.RSAPublicKey):
            # KMS uses a salt as long as the hash; AUTO accepts it (and any other length a
            # signer chose), the hash and the mask function are fixed.
            key.verify(
                signed.signature,
                signed.message,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                hashes.SHA256(),
            )
        else:
            return (
                f"algorithm {signed.algorithm} does not match the public key ({type(key).__name__})"
            )
    except InvalidSignature:
        return "the signature does not match"
    return None


def check_with_kms(kms: KMSClient, key_arn: str, signed: Signed) -> str | None:
    """kms:Verify with the key `key_arn`: None when KMS says the signature is valid.
    EvidenceError when KMS cannot be asked (that is no answer about the pack)."""
    try:
        answer = kms.verify(
            KeyId=key_arn,
            Message=signed.message,
            MessageType="RAW",
            Signature=signed.signature,
            SigningAlgorithm=cast(Any, signed.algorithm),
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code")
        if code in ("KMSInvalidSignatureException", "InvalidSignatureException"):
            return "kms:Verify says the signature is not valid"
        if code in ("ValidationException", "InvalidKeyUsageException"):
            # The signature names an algorithm the key does not sign with (aa-scan's own
            # messages are always valid ones): that key did not make it.
            return f"kms:Verify refuses it for this key ({code}: {error.get('Message')})"
        raise _aws_error("kms:Verify", key_arn, exc) from None
    except BotoCoreError as exc:
        raise _aws_error("kms:Verify", key_arn, exc) from None
    return None if answer.get("SignatureValid") else "kms:Verify says the signature is not valid"
