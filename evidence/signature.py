"""manifest.json.sig: an AWS KMS signature of the manifest, checkable offline years later.

What KMS signs is the SHA-256 of manifest.json: its 32 bytes are the message, sent with
MessageType RAW, so KMS hashes them once more with SHA-256 and signs that (ECDSA_SHA_256 for
an ECC_NIST_P256 key, RSASSA_PSS_SHA_256 for an RSA key). A RAW message of 32 bytes rather
than a DIGEST keeps the manifest's size irrelevant (RAW messages stop at 4 KB) and means the
same thing to every implementation of kms:Sign. The file also holds the key's ARN, the
algorithm, when it was signed and the public key (kms:GetPublicKey, PEM), so `aa-scan
verify` needs neither AWS nor credentials: `cryptography` checks the signature against the
public key. An auditor who holds the public key from elsewhere (--public-key) also knows it
is the expected key; `--online` asks kms:Verify instead.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from botocore.exceptions import BotoCoreError, ClientError

from .files import load_json
from .manifest import MANIFEST_NAME, SIGNATURE_NAME, EvidenceError, write_bytes_atomic

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

SIGNATURE_VERSION = 1
MESSAGE = ("the SHA-256 digest of manifest.json (32 bytes), signed as a RAW message: KMS "
           "hashes it with SHA-256 again and signs that")
ECDSA = "ECDSA_SHA_256"
RSA_PSS = "RSASSA_PSS_SHA_256"


class SigningError(EvidenceError):
    """The manifest could not be signed (KMS refused, or the key cannot sign)."""


class SignatureFile(TypedDict):
    signature_version: int
    file: str
    manifest_sha256: str
    message: str
    message_type: str
    key_arn: str
    key_spec: str
    algorithm: str
    signed_at: str
    signature: str  # base64
    public_key_pem: str


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


def _aws_error(action: str, key_id: str, exc: Exception) -> SigningError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return SigningError(f"{action} with KMS key {key_id} failed: {error.get('Code')}: "
                            f"{error.get('Message')}")
    return SigningError(f"{action} with KMS key {key_id} failed: {exc}")


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def sign_manifest(kms: KMSClient, key_id: str, directory: Path) -> tuple[Path, SignatureFile]:
    """Sign directory/manifest.json with the KMS key and write manifest.json.sig beside it."""
    try:
        data = (directory / MANIFEST_NAME).read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read {directory / MANIFEST_NAME} to sign it: "
                           f"{exc.strerror or exc}") from None
    digest = hashlib.sha256(data).digest()
    try:
        public = kms.get_public_key(KeyId=key_id)
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error("kms:GetPublicKey", key_id, exc) from None
    # KeySpec since 2021; moto, and older answers, only carry CustomerMasterKeySpec.
    spec = str(public.get("KeySpec") or public.get("CustomerMasterKeySpec") or "unknown")
    usage = public.get("KeyUsage")
    if usage != "SIGN_VERIFY":
        raise SigningError(f"KMS key {key_id} cannot sign (key spec {spec}, key usage "
                           f"{usage or 'not given'}): use an asymmetric key with key usage "
                           "SIGN_VERIFY (ECC_NIST_P256 or RSA)")
    algorithm = algorithm_for(spec)
    offered = public.get("SigningAlgorithms") or []
    if algorithm is None or (offered and algorithm not in offered):
        raise SigningError(f"KMS key {key_id} is a {spec} key: use an ECC_NIST_P256 key "
                           f"({ECDSA}) or an RSA key ({RSA_PSS})")
    try:
        signed = kms.sign(KeyId=key_id, Message=digest, MessageType="RAW",
                          SigningAlgorithm=cast(Any, algorithm))
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error("kms:Sign", key_id, exc) from None
    record: SignatureFile = {
        "signature_version": SIGNATURE_VERSION,
        "file": MANIFEST_NAME,
        "manifest_sha256": digest.hex(),
        "message": MESSAGE,
        "message_type": "RAW",
        "key_arn": str(signed.get("KeyId") or key_id),
        "key_spec": spec,
        "algorithm": algorithm,
        "signed_at": now_utc(),
        "signature": base64.b64encode(signed["Signature"]).decode("ascii"),
        "public_key_pem": pem(public["PublicKey"]),
    }
    # A signature that does not verify with the key's own public key would only be found
    # out by an auditor, years later: check it now.
    problem = check_offline(record, data)
    if problem is not None:
        raise SigningError(f"the signature KMS returned for key {key_id} does not verify: "
                           f"{problem}")
    text = json.dumps(record, indent=2, ensure_ascii=True) + "\n"
    try:
        path = write_bytes_atomic(directory / SIGNATURE_NAME, text.encode("ascii"))
    except OSError as exc:
        raise SigningError(f"cannot write {directory / SIGNATURE_NAME}: "
                           f"{exc.strerror or exc}") from None
    return path, record


# -- checking one ---------------------------------------------------------------------------


def parse_signature(data: bytes) -> SignatureFile | None:
    """The signature file, or None when it is not one (a tampered or foreign file)."""
    try:
        loaded = load_json(data)
    except ValueError:
        return None
    keys = SignatureFile.__required_keys__
    if not isinstance(loaded, dict) or not keys <= loaded.keys():
        return None
    if not all(isinstance(loaded[k], str) for k in keys - {"signature_version"}):
        return None
    return cast(SignatureFile, loaded)


def signature_bytes(record: SignatureFile) -> bytes | None:
    try:
        return base64.b64decode(record["signature"], validate=True)
    except (binascii.Error, ValueError):
        return None


def _signed(record: SignatureFile, manifest: bytes) -> tuple[bytes, bytes] | str:
    """(the manifest's digest, the signature) when the record is about these bytes and its
    signature decodes; otherwise why not, in a few words."""
    digest = hashlib.sha256(manifest).digest()
    if digest.hex() != record["manifest_sha256"]:
        return "manifest.json is not the file that was signed (its SHA-256 differs)"
    signature = signature_bytes(record)
    if signature is None:
        return "the signature is not base64"
    return digest, signature


def check_offline(record: SignatureFile, manifest: bytes) -> str | None:
    """None when the signature in `record` verifies for these manifest bytes with the public
    key it holds; otherwise why not, in a few words."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    signed = _signed(record, manifest)
    if isinstance(signed, str):
        return signed
    digest, signature = signed
    try:
        key = serialization.load_pem_public_key(record["public_key_pem"].encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return "the public key is not a PEM public key"
    try:
        if record["algorithm"] == ECDSA and isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(key.curve, ec.SECP256R1):
                return f"the public key is on {key.curve.name}, not P-256"
            key.verify(signature, digest, ec.ECDSA(hashes.SHA256()))
        elif record["algorithm"] == RSA_PSS and isinstance(key, rsa.RSAPublicKey):
            # KMS uses a salt as long as the hash; AUTO accepts it (and any other length a
            # signer chose), the hash and the mask function are fixed.
            key.verify(signature, digest, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                      salt_length=padding.PSS.AUTO),
                       hashes.SHA256())
        else:
            return (f"algorithm {record['algorithm']} does not match the public key "
                    f"({type(key).__name__})")
    except InvalidSignature:
        return "the signature does not match the manifest and the public key"
    return None


def public_key_der(pem_text: str) -> bytes | None:
    """The DER of a PEM public key (to compare keys whatever their line wrapping)."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(pem_text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def check_online(kms: KMSClient, record: SignatureFile, manifest: bytes) -> str | None:
    """kms:Verify instead of the public key in the file: None when KMS says it is valid.
    EvidenceError when KMS cannot be asked (that is no answer about the pack)."""
    signed = _signed(record, manifest)
    if isinstance(signed, str):
        return signed
    digest, signature = signed
    try:
        answer = kms.verify(KeyId=record["key_arn"], Message=digest, MessageType="RAW",
                            Signature=signature,
                            SigningAlgorithm=cast(Any, record["algorithm"]))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "KMSInvalidSignatureException":
            return "kms:Verify says the signature is not valid"
        raise _aws_error("kms:Verify", record["key_arn"], exc) from None
    except BotoCoreError as exc:
        raise _aws_error("kms:Verify", record["key_arn"], exc) from None
    return None if answer.get("SignatureValid") else "kms:Verify says the signature is not valid"
