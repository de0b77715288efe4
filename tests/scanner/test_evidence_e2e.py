"""The evidence pack end to end, against the simulated organization with moto's KMS and S3:
the manifest a scan writes, `aa-scan verify` on intact and tampered folders, signatures
(good, bad, by another key), and the upload to S3 (checked, and failing half-way)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

import scanner.aws
from scanner.cli import main
from scanner.evidence.signature import pem
from scanner.evidence.upload import UploadError, _mismatch, parse_destination, upload_folder

from .conftest import env_world

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
ANALYZERS = [{"type": "ORGANIZATION", "name": "org", "regions": REGIONS,
              "findings": [{"generate": {"count": 40}}]}]
ALL = "json,html,xlsx"
PACK = ["report.html", "report.xlsx", "scan.json"]
BUCKET = "aa-scan-evidence"


def simulated(directory: Path) -> list[str]:
    """--accept-endpoint for each endpoint the pack's scan was sent to: the auditor of these
    tests accepts the simulated organization as AWS (by default a scan through an endpoint
    that is not AWS's proves nothing about AWS: exit 3)."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return []
    source = manifest.get("source") if isinstance(manifest, dict) else None
    overrides = source.get("endpoint_overrides", {}) if isinstance(source, dict) else {}
    return [a for url in sorted(set(overrides.values())) for a in ("--accept-endpoint", url)]


def verify(capsys: pytest.CaptureFixture[str], directory: Path, *args: str,
           accept: bool = True) -> tuple[int, list[str], str]:
    code = main(["verify", str(directory), *args, *(simulated(directory) if accept else [])])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def manifest_of(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "manifest.json").read_text())


def signing_key(world: Any, spec: str = "ECC_NIST_P256") -> str:
    key = world.client("kms").create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")
    return str(key["KeyMetadata"]["Arn"])


# -- the manifest -------------------------------------------------------------------------------


def test_a_scan_writes_its_manifest_last_naming_every_file(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        run = run_scan(formats=ALL)
        stats = world.stats.snapshot()["operations"]
    assert run.code == 0, run.err
    directory = run.directory
    manifest = manifest_of(directory)
    assert [a["path"] for a in manifest["artifacts"]] == PACK
    for artifact in manifest["artifacts"]:
        data = (directory / artifact["path"]).read_bytes()
        assert artifact["bytes"] == len(data)
        assert artifact["sha256"] == hashlib.sha256(data).hexdigest()
    # Written last: no artifact is newer than the manifest.
    newest = max((directory / name).stat().st_mtime_ns for name in PACK)
    assert (directory / "manifest.json").stat().st_mtime_ns >= newest
    assert "manifest.json" in run.out.splitlines()[-1]
    # The query: every operation the simulated AWS saw, counted the same in scan.json.
    calls = {operation.split(":")[1]: count for operation, count in stats.items()}
    assert manifest["completeness"]["api_calls"] == calls == run.document["api_calls"]
    assert calls["ListAnalyzers"] == 3 and calls["GetCallerIdentity"] == 1
    assert sum(r["api_calls"] for r in run.document["regions"]) == sum(
        n for op, n in calls.items() if op in ("ListAnalyzers", "GetFindingsStatistics",
                                               "ListArchiveRules", "ListFindings"))
    # The parameters: the configuration scan.json records, and its hash.
    configuration = run.document["configuration"]
    assert manifest["configuration"] == configuration
    canonical = json.dumps(configuration, sort_keys=True, separators=(",", ":"))
    assert manifest["configuration_sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert manifest["scope"]["regions_scanned"] == sorted(REGIONS)
    assert manifest["scope"]["regions_not_enabled"] == ["af-south-1"]
    assert manifest["scope"]["accounts"] == 3
    assert manifest["identity"] == run.document["identity"]
    assert manifest["run_id"] == run.document["run_id"]
    assert manifest["controls"] == run.document["summary"]["controls"]


# -- verify -------------------------------------------------------------------------------------


def scan_once(folder: Path, *args: str) -> tuple[int, Path]:
    """A scan of the world in the environment as `run_scan` makes it (from inside folder, so
    the history and the defaults are its own), for a fixture several tests share."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        code = main([*args, "--output-dir", str(folder / "out1"), "--log-file", "",
                     "--format", ALL])
    return code, folder / "out1"


@pytest.fixture(scope="module")
def scanned_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scan's pack, made once: the tests that damage a pack each damage a copy of it."""
    folder = tmp_path_factory.mktemp("pack")
    with pytest.MonkeyPatch.context() as patch, env_world(patch, analyzers=ANALYZERS):
        code, directory = scan_once(folder)
    assert code == 0
    return directory


@pytest.fixture
def pack(scanned_pack: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out1"
    shutil.copytree(scanned_pack, copy)
    return copy


def intact_line(directory: Path, manifest: dict[str, Any], source: str,
                folder: str = "the folder's name is its run id") -> str:
    return (f"INTACT {directory}: 3 artifact(s) match manifest.json, which records run "
            f"{manifest['run_id']} ({source}), started {manifest['started_at']} from account "
            f"222222222222 in organization {manifest['organization']['id']}; {folder}")


def live(manifest: dict[str, Any]) -> str:
    overrides = manifest["source"]["endpoint_overrides"]
    assert overrides["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    return "a live scan through " + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items()))


def test_an_unsigned_folder_is_intact_but_not_authenticated(pack, capsys):
    code, lines, err = verify(capsys, pack)
    manifest = manifest_of(pack)
    assert code == 3, err
    assert lines == [
        intact_line(pack, manifest, live(manifest),
                    "the folder's name (out1) is not its run id: it was written under this "
                    "name (--output-dir)"),
        "NOT AUTHENTICATED: proved: the 3 artifact(s) match manifest.json; signature: not "
        "signed. Not proved: who wrote manifest.json: it is not signed, and whoever can "
        "rewrite the folder can rewrite it too (sign with --sign-kms-key; --hashes-only checks "
        "the hashes alone)"]
    # Asked for, the hash check alone may pass.
    code, lines, err = verify(capsys, pack, "--hashes-only")
    assert code == 0, err
    assert lines[1] == ("HASHES ONLY (--hashes-only): proved: the 3 artifact(s) match "
                        "manifest.json; signature: not signed. Not proved: who wrote "
                        "manifest.json (no key was checked): whoever can rewrite the folder "
                        "can rewrite it too")


def test_a_pack_copied_under_another_name_says_so(pack, capsys):
    copy = pack.parent / "20991231T000000Z-000000000000"
    pack.rename(copy)
    code, lines, _ = verify(capsys, copy, "--hashes-only")
    assert code == 0
    assert lines[0].endswith("; the folder's name (20991231T000000Z-000000000000) is not its run "
                             "id nor the name it was written under (out1): a copy, renamed")


def test_a_changed_byte_in_report_html_is_named(pack, capsys):
    page = pack / "report.html"
    data = bytearray(page.read_bytes())
    data[len(data) // 2] ^= 0x01
    page.write_bytes(bytes(data))
    code, lines, _ = verify(capsys, pack)
    assert code == 1
    recorded = next(a for a in manifest_of(pack)["artifacts"] if a["path"] == "report.html")
    now = hashlib.sha256(bytes(data)).hexdigest()
    assert lines == [
        f"CHANGED report.html: SHA-256 {now[:16]}… ({len(data):,} bytes), manifest.json "
        f"recorded {recorded['sha256'][:16]}… ({recorded['bytes']:,} bytes)",
        f"TAMPERED {pack}: 1 problem(s) against manifest.json (3 artifact(s))"]


def test_a_missing_and_an_added_artifact_are_named(pack, capsys):
    (pack / "report.xlsx").unlink()
    (pack / "notes.txt").write_text("added later")
    (pack / "extra").mkdir()
    (pack / "extra" / "x\nINTACT forged").write_text("a name that tries to forge a line")
    code, lines, _ = verify(capsys, pack)
    assert code == 1
    assert lines[:-1] == [
        "MISSING report.xlsx: named in manifest.json, not in the folder",
        "ADDED extra/x[U+000A]INTACT forged: in the folder, not named in manifest.json",
        "ADDED notes.txt: in the folder, not named in manifest.json"]
    assert lines[-1].startswith(f"TAMPERED {pack}: 3 problem(s)")


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "manifest.json").write_text("{not json"), "not valid JSON"),
    (lambda d: (d / "manifest.json").unlink(), "no manifest in this folder"),
    (lambda d: (d / "manifest.json").write_text('{"manifest_version": 7}'), "newer"),
])
def test_an_unreadable_manifest_exits_2_with_one_line(pack, capsys, damage, message):
    damage(pack)
    code, lines, err = verify(capsys, pack)
    assert code == 2 and lines == []
    assert len(err.strip().splitlines()) == 1 and message in err
    assert "Traceback" not in err


def test_a_missing_folder_exits_2(tmp_path, capsys):
    code, lines, err = verify(capsys, tmp_path / "nowhere")
    assert (code, lines) == (2, []) and "no such folder" in err
    code, _, err = verify(capsys, tmp_path, "--no-such-flag")
    assert code == 2 and "aa-scan verify: error" in err


# -- signatures ---------------------------------------------------------------------------------


def public_key_file(world: Any, key: str, folder: Path) -> Path:
    path = folder / f"{key.rsplit('/', 1)[-1]}.pem"
    path.write_text(pem(world.client("kms").get_public_key(KeyId=key)["PublicKey"]))
    return path


@pytest.mark.parametrize("spec, algorithm", [("ECC_NIST_P256", "ECDSA_SHA_256"),
                                             ("RSA_2048", "RSASSA_PSS_SHA_256")])
def test_a_signed_pack_is_authenticated_only_against_a_pinned_key(monkeypatch, run_scan, capsys,
                                                                  tmp_path, spec, algorithm):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        key = signing_key(world, spec)
        run = run_scan("--sign-kms-key", key, formats=ALL)
        assert run.code == 0, run.err
        assert f"Signed: {run.directory / 'manifest.json.sig'} ({algorithm}, {key})" in run.out
        unpinned = verify(capsys, run.directory)
        online = verify(capsys, run.directory, "--online")
        by_arn = verify(capsys, run.directory, "--key-arn", key)  # implies --online
        by_pem = verify(capsys, run.directory, "--public-key",
                        str(public_key_file(world, key, tmp_path)))
        both = verify(capsys, run.directory, "--public-key",
                      str(public_key_file(world, key, tmp_path)), "--online")
    record = json.loads((run.directory / "manifest.json.sig").read_text())
    manifest = (run.directory / "manifest.json").read_bytes()
    statement = json.loads(record["statement"])
    assert record["signature_version"] == 2 and record["algorithm"] == algorithm
    assert statement == {"statement": "aa-scan evidence pack", "run_id": run.document["run_id"],
                         "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
                         "key_arn": key, "signed_at": statement["signed_at"]}
    # The statement is the exact text signed: sorted keys, no spaces (openssl can check it).
    assert record["statement"] == json.dumps(statement, sort_keys=True, separators=(",", ":"))
    assert json.loads(manifest)["signing"]["key_arn"] == key
    assert record["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----\n")
    assert base64.b64decode(record["signature"])
    # Without a pin, a valid signature proves only that someone signed it.
    assert unpinned[0] == 3 and unpinned[1][-1].startswith(
        "NOT AUTHENTICATED: proved: the 3 artifact(s) match manifest.json; signature: "
        f"consistent with the public key it holds, which claims to be {key} ({algorithm}")
    assert online[0] == 3 and f"signature: valid for KMS key {key}, says kms:Verify" in \
        online[1][-1]
    assert by_arn[0] == 0, by_arn
    assert by_arn[1][-1].startswith(f"AUTHENTICATED: manifest.json is signed by {key}, the key "
                                    f"pinned with --key-arn ({algorithm}, signed ")
    assert by_arn[1][-1].endswith(", checked by kms:Verify)")
    assert by_pem[0] == 0, by_pem
    assert by_pem[1][-1].startswith("AUTHENTICATED: manifest.json is signed by the key pinned "
                                    f"with --public-key (it names itself {key}; {algorithm}")
    assert both[0] == 0 and both[1][-1].endswith(f"; kms:Verify agrees it is {key}'s")


@pytest.fixture(scope="class")
def signed_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, Path]]:
    """A signed pack, made once for the tests of a class, the world kept up until the last of
    them (for a second key and for kms:Verify)."""
    folder = tmp_path_factory.mktemp("signed")
    with pytest.MonkeyPatch.context() as patch, env_world(patch, analyzers=ANALYZERS) as world:
        key = signing_key(world)
        code, directory = scan_once(folder, "--sign-kms-key", key)
        assert code == 0
        yield world, key, directory


@pytest.fixture
def signed(signed_world: tuple[Any, str, Path], tmp_path: Path) -> tuple[Any, str, Path]:
    """The signed pack of the class, copied for one test to damage."""
    world, key, directory = signed_world
    copy = tmp_path / "out1"
    shutil.copytree(directory, copy)
    return world, key, copy


def rewrite_signature(directory: Path, **fields: Any) -> None:
    path = directory / "manifest.json.sig"
    record = json.loads(path.read_text())
    record.update(fields)
    path.write_text(json.dumps(record))


def kms_sign(world: Any, key: str, message: bytes) -> str:
    signature = world.client("kms").sign(KeyId=key, Message=message, MessageType="RAW",
                                         SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    return base64.b64encode(signature).decode()


def resign(world: Any, directory: Path, key: str, **changes: str) -> None:
    """Sign, with `key`, the pack's statement with some of its fields changed."""
    record = json.loads((directory / "manifest.json.sig").read_text())
    statement = {**json.loads(record["statement"]), **changes}
    text = json.dumps(statement, sort_keys=True, separators=(",", ":"))
    rewrite_signature(directory, statement=text,
                      signature=kms_sign(world, key, text.encode()),
                      public_key_pem=pem(world.client("kms").get_public_key(
                          KeyId=key)["PublicKey"]))


def forge_report(directory: Path, public_key_pem: str) -> bytes:
    """The attack of issue 20 §1: change report.html, re-hash it into manifest.json, and
    have manifest.json name the attacker's public key."""
    page = directory / "report.html"
    page.write_bytes(page.read_bytes().replace(b"</body>", b"<p>forged</p></body>"))
    manifest = manifest_of(directory)
    manifest.setdefault("signing", {})["public_key_sha256"] = hashlib.sha256(
        load_pem_public_key(public_key_pem.encode()).public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).hexdigest()
    data = page.read_bytes()
    for artifact in manifest["artifacts"]:
        if artifact["path"] == "report.html":
            artifact.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    text = (json.dumps(manifest, indent=2) + "\n").encode()
    (directory / "manifest.json").write_bytes(text)
    return text


class TestASignedPack:
    """Damaged and forged signed packs: one world and one signed scan for the class, a copy
    per test."""

    def test_a_bad_signature_is_tampered(self, signed, capsys):
        _world, key, directory = signed
        record = json.loads((directory / "manifest.json.sig").read_text())
        signature = bytearray(base64.b64decode(record["signature"]))
        signature[-1] ^= 0x01
        rewrite_signature(directory, signature=base64.b64encode(bytes(signature)).decode())
        code, lines, _ = verify(capsys, directory)
        assert code == 1
        assert lines[0] == ("SIGNATURE manifest.json.sig: the signature does not match (with "
                            f"the public key in it; key {key}, ECDSA_SHA_256)")
        code, lines, _ = verify(capsys, directory, "--key-arn", key)
        assert code == 1
        assert lines[0] == ("SIGNATURE manifest.json.sig: kms:Verify says the signature is not "
                            f"valid (key {key})")

    @pytest.mark.parametrize("version", [1, 2])
    def test_a_forged_pack_claiming_the_victims_key_is_refused(self, signed, capsys, tmp_path,
                                                               version):
        """Issue 20 §1: report.html changed, re-hashed, manifest.json rewritten and signed
        by the attacker's own key, the victim's key ARN written into the signature file.
        Version 1 is the file aa-scan wrote before the statement; the attack passed then."""
        world, victim, directory = signed
        attacker = signing_key(world)
        attacker_pem = pem(world.client("kms").get_public_key(KeyId=attacker)["PublicKey"])
        manifest = forge_report(directory, attacker_pem)
        if version == 1:
            digest = hashlib.sha256(manifest).digest()
            (directory / "manifest.json.sig").write_text(json.dumps({
                "signature_version": 1, "file": "manifest.json",
                "manifest_sha256": digest.hex(), "message": "", "message_type": "RAW",
                "key_arn": victim, "key_spec": "ECC_NIST_P256", "algorithm": "ECDSA_SHA_256",
                "signed_at": "2026-12-01T00:00:00Z", "public_key_pem": attacker_pem,
                "signature": kms_sign(world, attacker, digest)}))
        else:
            resign(world, directory, attacker,
                   manifest_sha256=hashlib.sha256(manifest).hexdigest())
            record = json.loads((directory / "manifest.json.sig").read_text())
            statement = {**json.loads(record["statement"]), "key_arn": victim}
            text = json.dumps(statement, sort_keys=True, separators=(",", ":"))
            rewrite_signature(directory, statement=text,
                              signature=kms_sign(world, attacker, text.encode()))
        by_arn = verify(capsys, directory, "--key-arn", victim)
        by_pem = verify(capsys, directory, "--public-key",
                        str(public_key_file(world, victim, tmp_path)))
        unpinned = verify(capsys, directory)
        if version == 1:
            # A bare SHA-256 signature stands for no version 2 manifest, pinned or not.
            for code, lines, _err in (by_arn, by_pem, unpinned):
                assert code == 1
                assert lines[0] == ("SIGNATURE manifest.json.sig: a version 1 signature on a "
                                    "version 2 manifest.json, which aa-scan signs with a "
                                    "statement")
            return
        assert by_arn[0] == 1, by_arn
        assert by_arn[1][0] == ("SIGNATURE manifest.json.sig: kms:Verify says the signature is "
                                f"not valid (key {victim})")
        assert by_pem[0] == 1, by_pem
        assert by_pem[1][0].startswith("SIGNATURE manifest.json.sig: not by the pinned public "
                                       "key (the signature does not match; it claims key "
                                       f"{victim})")
        # Unpinned, the forgery is self-consistent: intact, and not authenticated.
        assert unpinned[0] == 3, unpinned
        assert unpinned[1][-1].startswith("NOT AUTHENTICATED: proved: the 3 artifact(s) match "
                                          "manifest.json; signature: consistent with the public "
                                          f"key it holds, which claims to be {victim}")

    def test_a_forgery_by_a_key_of_another_kind_is_tampered_not_unreadable(self, signed,
                                                                           capsys):
        """Found attacking it: signed with an RSA key, the victim's ECC key pinned by ARN,
        kms:Verify refused the algorithm and verify exited 2, as if KMS could not be asked."""
        world, victim, directory = signed
        attacker = signing_key(world, "RSA_2048")
        manifest = forge_report(directory, pem(world.client("kms").get_public_key(
            KeyId=attacker)["PublicKey"]))
        record = json.loads((directory / "manifest.json.sig").read_text())
        statement = {**json.loads(record["statement"]), "key_arn": victim,
                     "manifest_sha256": hashlib.sha256(manifest).hexdigest()}
        text = json.dumps(statement, sort_keys=True, separators=(",", ":"))
        signature = world.client("kms").sign(KeyId=attacker, Message=text.encode(),
                                             MessageType="RAW",
                                             SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
        rewrite_signature(directory, statement=text, algorithm="RSASSA_PSS_SHA_256",
                          signature=base64.b64encode(signature).decode(),
                          public_key_pem=pem(world.client("kms").get_public_key(
                              KeyId=attacker)["PublicKey"]))
        code, lines, err = verify(capsys, directory, "--key-arn", victim)
        assert code == 1, err
        assert lines[0].startswith("SIGNATURE manifest.json.sig: kms:Verify refuses it for this "
                                   "key (ValidationException: ")

    def test_a_bare_hash_signed_by_the_pinned_key_stands_for_no_new_manifest(self, signed,
                                                                             capsys):
        """Found attacking it: a version 1 signature (the manifest's SHA-256 alone) by the
        pinned key, which a key also used elsewhere may have signed for someone, made a
        forged version 2 manifest AUTHENTICATED."""
        world, key, directory = signed
        record = json.loads((directory / "manifest.json.sig").read_text())
        manifest = forge_report(directory, record["public_key_pem"])
        digest = hashlib.sha256(manifest).digest()
        (directory / "manifest.json.sig").write_text(json.dumps({
            "signature_version": 1, "file": "manifest.json", "manifest_sha256": digest.hex(),
            "message": "", "message_type": "RAW", "key_arn": key, "key_spec": "ECC_NIST_P256",
            "algorithm": "ECDSA_SHA_256", "signed_at": "2026-12-01T00:00:00Z",
            "public_key_pem": record["public_key_pem"], "signature": kms_sign(world, key,
                                                                              digest)}))
        code, lines, _ = verify(capsys, directory, "--key-arn", key)
        assert code == 1, lines
        assert lines[0].startswith("SIGNATURE manifest.json.sig: a version 1 signature on a "
                                   "version 2 manifest.json")

    def test_a_statement_that_reads_two_ways_is_not_a_signature_file(self, signed, capsys):
        """Found attacking it: a statement with a key twice (or spaces) parses, and another
        JSON parser may keep the other value."""
        world, key, directory = signed
        record = json.loads((directory / "manifest.json.sig").read_text())
        text = record["statement"][:-1] + ',"run_id":"another"}'
        rewrite_signature(directory, statement=text, signature=kms_sign(world, key,
                                                                        text.encode()))
        code, lines, _ = verify(capsys, directory, "--key-arn", key)
        assert code == 1
        assert lines[0] == "SIGNATURE manifest.json.sig: not a signature file aa-scan wrote"

    def test_the_statement_cannot_be_edited_after_signing(self, signed, capsys):
        _world, key, directory = signed
        record = json.loads((directory / "manifest.json.sig").read_text())
        for field, value in (("signed_at", "2030-01-01T00:00:00Z"), ("run_id", "another-run"),
                             ("key_arn", key.replace("key/", "key/0"))):
            statement = {**json.loads(record["statement"]), field: value}
            rewrite_signature(directory, statement=json.dumps(statement, sort_keys=True,
                                                              separators=(",", ":")))
            code, lines, _ = verify(capsys, directory, "--key-arn", key)
            assert code == 1, (field, lines)

    def test_a_statement_about_another_run_or_key_is_refused(self, signed, capsys):
        """Signed by the right key, a statement must still be about this manifest's run and
        name the key the manifest says signs it."""
        world, key, directory = signed
        resign(world, directory, key, run_id="20260101T000000Z-0123456789ab")
        code, lines, _ = verify(capsys, directory, "--key-arn", key)
        run_id = manifest_of(directory)["run_id"]
        assert code == 1
        assert lines[0] == ("SIGNATURE manifest.json.sig: signed for run "
                            f"20260101T000000Z-0123456789ab, but manifest.json is of run {run_id}")
        other = signing_key(world)
        resign(world, directory, other, run_id=run_id, key_arn=other)
        code, lines, _ = verify(capsys, directory, "--key-arn", other)
        assert code == 1
        assert lines[0] == (f"SIGNATURE manifest.json.sig: signed by {other}, but manifest.json "
                            f"says the pack is signed by {key}")

    def test_a_signature_by_another_key_than_the_pinned_one_is_tampered(self, signed, capsys,
                                                                        tmp_path):
        world, key, directory = signed
        other = signing_key(world)
        # Re-signed whole by the other key (its ARN and public key too): consistent, and
        # still not the key the auditor pinned.
        resign(world, directory, other, key_arn=other)
        code, lines, _ = verify(capsys, directory, "--public-key",
                                str(public_key_file(world, key, tmp_path)))
        assert code == 1
        assert lines[0] == ("SIGNATURE manifest.json.sig: not by the pinned public key (the "
                            f"signature does not match; it claims key {other})")
        code, lines, _ = verify(capsys, directory, "--key-arn", key)
        assert code == 1
        assert lines[0] == ("SIGNATURE manifest.json.sig: kms:Verify says the signature is not "
                            f"valid (key {key})")

    def test_a_signature_naming_no_kms_key_is_tampered_not_a_crash(self, signed, capsys):
        world, key, directory = signed
        resign(world, directory, key, key_arn="arn:aws:kms:../../evil\x1b[31m")
        code, lines, err = verify(capsys, directory, "--online")
        assert code == 1, err
        assert lines[0] == ("SIGNATURE manifest.json.sig: signed by arn:aws:kms:../../evil"
                            "[U+001B][31m, but manifest.json says the pack is signed by "
                            f"{key}")

    def test_signatures_swapped_between_two_runs_are_refused(self, signed, capsys, tmp_path):
        _world, key, directory = signed
        (tmp_path / "second").mkdir()
        code, second = scan_once(tmp_path / "second", "--sign-kms-key", key)
        capsys.readouterr()
        assert code == 0
        shutil.copy(second / "manifest.json.sig", directory / "manifest.json.sig")
        code, lines, _ = verify(capsys, directory, "--key-arn", key)
        assert code == 1 and lines[0].startswith("CHANGED manifest.json: SHA-256 ")
        assert lines[0].split(", ")[1].startswith("manifest.json.sig signed ")

    def test_an_old_pack_under_a_new_name_is_authentic_and_says_it_was_renamed(self, signed,
                                                                              capsys):
        _world, key, directory = signed
        copy = directory.parent / "20991231T000000Z-000000000000"
        directory.rename(copy)
        code, lines, _ = verify(capsys, copy, "--key-arn", key)
        manifest = manifest_of(copy)
        assert code == 0, lines
        assert lines[0] == intact_line(
            copy, manifest, live(manifest),
            "the folder's name (20991231T000000Z-000000000000) is not its run id nor the name "
            "it was written under (out1): a copy, renamed")

    def test_a_manifest_changed_after_signing_or_a_signature_removed_is_tampered(self, signed,
                                                                                 capsys):
        _world, key, directory = signed
        manifest = directory / "manifest.json"
        manifest.write_bytes(manifest.read_bytes().replace(b'"complete": true',
                                                           b'"complete":true'))
        code, lines, _ = verify(capsys, directory)
        assert code == 1 and lines[0].startswith("CHANGED manifest.json: SHA-256")
        assert len(lines) == 2  # the signature is not reported a second time
        (directory / "manifest.json.sig").unlink()
        code, lines, _ = verify(capsys, directory)
        assert code == 1
        assert lines[0] == ("MISSING manifest.json.sig: manifest.json says the pack was signed "
                            f"with {key}")


@pytest.mark.parametrize("args, message", [
    (("--key-arn", "alias/aa-scan-evidence"), "--key-arn alias/aa-scan-evidence: expected a KMS "
                                              "key ARN"),
    (("--hashes-only", "--online"), "--hashes-only checks no key"),
])
def test_verify_flags_that_pin_nothing_are_usage_errors(pack, capsys, args, message):
    code, lines, err = verify(capsys, pack, *args)
    assert (code, lines) == (2, [])
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_key_that_cannot_sign_is_refused_before_anything_is_scanned(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        key = world.client("kms").create_key()["KeyMetadata"]["Arn"]  # ENCRYPT_DECRYPT
        world.stats.reset()
        run = run_scan("--sign-kms-key", key)
        called = world.stats.snapshot()["operations"]
    assert run.code == 2
    errors = [line for line in run.err.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, run.err
    assert errors[0].startswith(f"ERROR KMS key {key} cannot sign (key spec SYMMETRIC_DEFAULT")
    assert errors[0].endswith("use an asymmetric key with key usage SIGN_VERIFY (ECC_NIST_P256 "
                              "or RSA)")
    assert "Traceback" not in run.err
    assert not run.directory.exists()
    assert not [op for op in called if op.startswith("access-analyzer:")]


# -- upload -------------------------------------------------------------------------------------


def evidence_key(world: Any) -> str:
    """A symmetric key with the alias the upload is given, as the policy expects."""
    kms = world.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/aa-scan-evidence", TargetKeyId=key)
    return str(key)


def recording_s3(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every PutObject and HeadObject aa-scan's S3 client sends: (operation, parameters)."""
    made = scanner.aws.s3_client
    sent: list[tuple[str, dict[str, Any]]] = []

    def recording_client(*args: Any, **kwargs: Any) -> Any:
        client = made(*args, **kwargs)
        for operation in ("PutObject", "HeadObject"):
            client.meta.events.register(
                f"provide-client-params.s3.{operation}",
                lambda params, operation=operation, **_: sent.append((operation, dict(params))))
        return client

    monkeypatch.setattr(scanner.aws, "s3_client", recording_client)
    return sent


@pytest.mark.parametrize("kms", [False, True])
def test_the_upload_copies_and_checks_every_object(monkeypatch, run_scan, kms):
    sent = recording_s3(monkeypatch)
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        s3 = world.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        key = signing_key(world)
        evidence = evidence_key(world) if kms else None
        extra = ("--upload-kms-key", "alias/aa-scan-evidence") if kms else ()
        run = run_scan("--sign-kms-key", key, "--upload", f"s3://{BUCKET}/audits/2026",
                       *extra, formats=ALL)
        assert run.code == 0, run.err
        # Under the run id, whatever the folder is called.
        prefix = f"audits/2026/{run.document['run_id']}/"
        names = [*PACK, "manifest.json", "manifest.json.sig"]
        assert [line for line in run.out.splitlines() if line.startswith("Uploaded: ")] == [
            f"Uploaded: s3://{BUCKET}/{prefix}{name}" for name in names]
        listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
        assert sorted(o["Key"] for o in listed) == sorted(prefix + n for n in names)
        recorded = {a["path"]: a["sha256"] for a in manifest_of(run.directory)["artifacts"]}
        for name in names:
            local = (run.directory / name).read_bytes()
            head = s3.head_object(Bucket=BUCKET, Key=prefix + name, ChecksumMode="ENABLED")
            body = s3.get_object(Bucket=BUCKET, Key=prefix + name)["Body"].read()
            sha = hashlib.sha256(local).digest()
            assert body == local, name
            assert head["ChecksumSHA256"] == base64.b64encode(sha).decode()
            assert recorded.get(name, sha.hex()) == sha.hex()
            assert head["ServerSideEncryption"] == ("aws:kms" if kms else "AES256")
            if kms:  # the key's ARN, checked on read-back
                assert head["SSEKMSKeyId"] == evidence
    # Every request names the bucket's owner (the scanning account); no put overwrites.
    assert [op for op, _ in sent] == ["PutObject", "HeadObject"] * len(names)
    assert all(params["ExpectedBucketOwner"] == "222222222222" for _, params in sent)
    assert all(params["IfNoneMatch"] == "*" for op, params in sent if op == "PutObject")


class TestWhereTheUploadWrites:
    """The bucket owner, no overwrite, the KMS key checked: one world for the class."""

    def test_the_configured_bucket_owner_is_sent_on_every_request(self, class_world, run_scan,
                                                                  monkeypatch):
        sent = recording_s3(monkeypatch)
        class_world.client("s3").create_bucket(Bucket="aa-scan-owned")
        run = run_scan("--upload", "s3://aa-scan-owned/", "--upload-bucket-owner",
                       "444455556666")
        # moto does not check the owner; S3 answers AccessDenied, which exits 2.
        assert run.code == 0, run.err
        assert sent and all(p["ExpectedBucketOwner"] == "444455556666" for _, p in sent)

    def test_an_upload_never_overwrites_an_object(self, class_world, run_scan):
        s3 = class_world.client("s3")
        s3.create_bucket(Bucket="aa-scan-twice")
        run = run_scan("--upload", "s3://aa-scan-twice/")
        assert run.code == 0, run.err
        key = f"{run.document['run_id']}/scan.json"
        before = s3.get_object(Bucket="aa-scan-twice", Key=key)["Body"].read()
        # The same pack again (another run folder, the same run id): refused, not replaced.
        with pytest.raises(UploadError, match=r"failed after 0 of 2 object\(s\): an object "
                                              r"is already there, and aa-scan never replaces"):
            upload_folder(s3, run.directory, parse_destination("s3://aa-scan-twice"),
                          bucket_owner="222222222222")
        assert s3.get_object(Bucket="aa-scan-twice", Key=key)["Body"].read() == before

    def test_a_re_render_sends_its_own_account_as_the_bucket_owner(self, class_world, run_scan,
                                                                  monkeypatch, tmp_path):
        """Found attacking it: a re-render took the bucket owner from the scan.json it read,
        which anyone can edit to name the account that re-created the bucket."""
        class_world.client("s3").create_bucket(Bucket="aa-scan-owner")
        run = run_scan()
        edited = json.loads((run.directory / "scan.json").read_text())
        edited["identity"]["account_id"] = "999999999999"
        source = tmp_path / "edited.json"
        source.write_text(json.dumps(edited))
        sent = recording_s3(monkeypatch)
        render = run_scan("--from-json", str(source), "--upload", "s3://aa-scan-owner/")
        assert render.code == 0, render.err
        assert sent and {p["ExpectedBucketOwner"] for _, p in sent} == {"222222222222"}

    def test_a_re_render_uploads_beside_its_run_never_over_it(self, class_world, run_scan):
        s3 = class_world.client("s3")
        s3.create_bucket(Bucket="aa-scan-renders")
        run = run_scan("--upload", "s3://aa-scan-renders/")
        render = run_scan("--from-json", str(run.directory / "scan.json"), "--upload",
                          "s3://aa-scan-renders/")
        assert (run.code, render.code) == (0, 0), render.err
        render_id = manifest_of(render.directory)["source"]["render"]["id"]
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="aa-scan-renders")["Contents"])
        run_id = run.document["run_id"]
        assert keys == sorted([f"{run_id}/manifest.json", f"{run_id}/scan.json",
                               f"{run_id}/re-render-{render_id}/manifest.json",
                               f"{run_id}/re-render-{render_id}/scan.json"])


def test_an_upload_failing_half_way_exits_2_and_leaves_the_folder_intact(monkeypatch, run_scan,
                                                                         capsys):
    made = scanner.aws.s3_client

    def failing_client(*args: Any, **kwargs: Any) -> Any:
        client = made(*args, **kwargs)
        puts = []

        def second_put_fails(**_: Any) -> None:
            puts.append(1)
            if len(puts) == 2:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied "
                                             "by the bucket policy"}}, "PutObject")

        client.meta.events.register("before-call.s3.PutObject", second_put_fails)
        return client

    monkeypatch.setattr(scanner.aws, "s3_client", failing_client)
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        s3 = world.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        run = run_scan("--upload", f"s3://{BUCKET}/audits/", formats=ALL)
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert run.code == 2
    target = f"s3://{BUCKET}/audits/{run.document['run_id']}/report.xlsx"
    errors = [line for line in run.err.splitlines() if line.startswith("ERROR")]
    assert errors == [f"ERROR upload to {target} failed after 1 of 4 object(s): AccessDenied: "
                      f"Access Denied by the bucket policy; the local folder {run.directory} is "
                      "intact"]
    assert "Traceback" not in run.err
    assert listed == [f"audits/{run.document['run_id']}/report.html"]
    assert "Uploaded:" not in run.out
    assert verify(capsys, run.directory, "--hashes-only")[0] == 0


def test_an_upload_to_a_bucket_that_does_not_exist_exits_2(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS):
        run = run_scan("--upload", "s3://aa-scan-nowhere/")
    assert run.code == 2
    errors = [line for line in run.err.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "NoSuchBucket" in errors[0] and "failed after 0 of 2" in errors[0]
    assert (run.directory / "manifest.json").is_file()


@pytest.fixture(scope="class")
def class_world() -> Iterator[Any]:
    """One world for the tests of a class, in the environment until the last of them."""
    with pytest.MonkeyPatch.context() as patch, env_world(patch, analyzers=ANALYZERS) as world:
        yield world


class TestBadEvidenceFlags:
    """Refused before anything is scanned: one world for the class, its calls counted from
    zero in each test."""

    @pytest.mark.parametrize("args, message", [
        (("--upload", "https://bucket/x"), "evidence.upload: expected an S3 location"),
        (("--upload", "s3://Bad_Bucket/"), "evidence.upload: expected an S3 location"),
        (("--upload-kms-key", "alias/x"), "needs evidence.upload"),
        (("--sign-kms-key", "not a key"), "evidence.sign_kms_key: expected a KMS key id"),
    ])
    def test_bad_evidence_flags_are_one_line_and_exit_2(self, class_world, run_scan, args,
                                                        message):
        class_world.stats.reset()
        run = run_scan(*args)
        called = class_world.stats.snapshot()["operations"]
        assert run.code == 2
        assert not called  # refused before anything was scanned
        errors = [line for line in run.err.splitlines() if line.startswith("ERROR")]
        assert len(errors) == 1 and message in errors[0], run.err


def test_a_file_changed_after_the_manifest_is_not_uploaded(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        run = run_scan(formats=ALL)
        s3 = world.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        (run.directory / "report.xlsx").write_bytes(b"not the workbook aa-scan wrote")
        with pytest.raises(UploadError, match=r"failed after 1 of 4 object\(s\): report.xlsx "
                                              r"changed after manifest.json was written"):
            upload_folder(s3, run.directory, parse_destination(f"s3://{BUCKET}"),
                          bucket_owner="222222222222")
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert listed == [f"{run.document['run_id']}/report.html"]


@pytest.mark.parametrize("head, problem", [
    ({"ContentLength": 9, "ChecksumSHA256": "abc=", "ServerSideEncryption": "AES256"},
     "S3 holds 9 bytes, 10 were sent"),
    ({"ContentLength": 10, "ServerSideEncryption": "AES256"},
     "S3 returned no SHA-256 checksum for the object"),
    ({"ContentLength": 10, "ChecksumSHA256": "xyz=", "ServerSideEncryption": "AES256"},
     "S3's SHA-256 checksum xyz= is not abc=, the file's"),
    ({"ContentLength": 10, "ChecksumSHA256": "abc=", "ServerSideEncryption": "aws:kms"},
     "the object is encrypted with aws:kms, not AES256"),
    ({"ContentLength": 10, "ChecksumSHA256": "abc=", "ServerSideEncryption": "AES256"}, None),
])
def test_an_object_that_is_not_what_was_sent_is_named(head, problem):
    assert _mismatch(head, 10, "abc=", "AES256") == problem


KEY = "arn:aws:kms:us-east-1:222222222222:key/11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize("stored, problem", [
    (KEY, None),
    (KEY.replace("1111", "9999"), f"the object is encrypted with KMS key "
                                  f"{KEY.replace('1111', '9999')}, not {KEY}"),
    (None, f"the object is encrypted with KMS key None, not {KEY}"),
])
def test_an_object_under_another_kms_key_is_named(stored, problem):
    head = {"ContentLength": 10, "ChecksumSHA256": "abc=", "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": stored}
    assert _mismatch(head, 10, "abc=", "aws:kms", KEY) == problem


@pytest.mark.parametrize("uri, bucket, prefix", [
    ("s3://aa-scan-evidence", "aa-scan-evidence", ""),
    ("s3://aa-scan-evidence/", "aa-scan-evidence", ""),
    ("s3://aa-scan-evidence/audits", "aa-scan-evidence", "audits/"),
    ("s3://aa-scan-evidence//audits/2026/", "aa-scan-evidence", "audits/2026/"),
])
def test_s3_locations(uri, bucket, prefix):
    destination = parse_destination(uri)
    assert (destination.bucket, destination.prefix) == (bucket, prefix)
    assert destination.uri(destination.key("run", "scan.json")) == \
        f"s3://{bucket}/{prefix}run/scan.json"
